//! The message catalogues (`ui/i18n/<code>.json`), one per language, embedded in the binary. The
//! pages fetch them from `/i18n/` (`meeting.rs`); the tray app words its menu and its problems
//! from them here, so that the window and the tray say the same thing in the same language.
//! A catalogue is a flat JSON object of texts with `{name}` placeholders; a count's text has one
//! key per CLDR plural category (`summary.people.one`, `.few`, `.many`, `.other`), picked by
//! [`plural_category`] as the browser's `Intl.PluralRules` picks it for the pages.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::OnceLock;

/// Every catalogue, by language code; English first (the fallback for any missing text).
pub const CATALOGUES: [(&str, &str); 6] = [
    ("en", include_str!("../../ui/i18n/en.json")),
    ("uz", include_str!("../../ui/i18n/uz.json")),
    ("ru", include_str!("../../ui/i18n/ru.json")),
    ("de", include_str!("../../ui/i18n/de.json")),
    ("fr", include_str!("../../ui/i18n/fr.json")),
    ("es", include_str!("../../ui/i18n/es.json")),
];

/// The JSON text of `code`'s catalogue, if there is one.
pub fn file(code: &str) -> Option<&'static str> {
    CATALOGUES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, json)| *json)
}

/// Whether there is a catalogue for `code`.
pub fn is_known(code: &str) -> bool {
    file(code).is_some()
}

/// One language's texts, English behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Catalogue {
    code: &'static str,
}

type Texts = HashMap<String, String>;

/// The parsed catalogues, in `CATALOGUES`' order. A catalogue that does not parse is empty (its
/// texts then come from English); a unit test keeps every one parsing.
fn parsed() -> &'static [Texts] {
    static PARSED: OnceLock<Vec<Texts>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(_, json)| serde_json::from_str(json).unwrap_or_default())
            .collect()
    })
}

impl Catalogue {
    /// The catalogue for `code` (a language code, or a tag such as `de-AT` or `ru_RU.UTF-8`);
    /// English when there is none.
    pub fn for_language(code: &str) -> Catalogue {
        let primary = primary_subtag(code);
        let code = CATALOGUES
            .iter()
            .map(|(c, _)| *c)
            .find(|c| *c == primary)
            .unwrap_or("en");
        Catalogue { code }
    }

    /// The language code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    fn raw(&self, key: &str) -> Option<&'static str> {
        let index = CATALOGUES.iter().position(|(c, _)| *c == self.code)?;
        let texts = parsed();
        texts[index]
            .get(key)
            .or_else(|| texts[0].get(key))
            .map(String::as_str)
    }

    /// The text of `key` with its placeholders filled from `values`; the key itself when no
    /// catalogue has it (visible, rather than an empty line).
    pub fn text(&self, key: &str, values: &[(&str, &dyn Display)]) -> String {
        fill(self.raw(key).unwrap_or(key), values)
    }

    /// The text of `key` for the count `n` (`{n}` filled in), in the plural form this language
    /// uses for it.
    pub fn count(&self, key: &str, n: u64) -> String {
        let category = plural_category(self.code, n);
        let text = self
            .raw(&format!("{key}.{category}"))
            .or_else(|| self.raw(&format!("{key}.other")))
            .unwrap_or(key);
        fill(text, &[("n", &n)])
    }
}

fn fill(text: &str, values: &[(&str, &dyn Display)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                match values.iter().find(|(n, _)| *n == name) {
                    Some((_, value)) => out.push_str(&value.to_string()),
                    None => out.push_str(&rest[open..open + close + 2]),
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `de` of `de-AT`, `ru` of `ru_RU.UTF-8`, lower case.
fn primary_subtag(tag: &str) -> String {
    tag.split(['-', '_', '.', '@'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The CLDR plural category of the whole number `n` in `code` (what `Intl.PluralRules` says for
/// the pages): Russian has one, few and many; French counts 0 as one; the others here one and
/// other.
pub fn plural_category(code: &str, n: u64) -> &'static str {
    match code {
        "ru" => match (n % 10, n % 100) {
            (1, m) if m != 11 => "one",
            (2..=4, m) if !(12..=14).contains(&m) => "few",
            _ => "many",
        },
        "fr" if n <= 1 => "one",
        "fr" => "other",
        _ if n == 1 => "one",
        _ => "other",
    }
}

/// The desktop's language, as POSIX programs read it: the first of `LANGUAGE` (a list) that has
/// a catalogue, else `LC_ALL`, `LC_MESSAGES`, `LANG` (the first one set); English when none
/// names one we have. `lookup` reads an environment variable (the tests pass their own).
pub fn system_language(lookup: impl Fn(&str) -> Option<String>) -> &'static str {
    let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
    // The C and POSIX locales mean "no language chosen", and then LANGUAGE is ignored too.
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].into_iter().find_map(&set);
    if locale.as_deref().is_some_and(|l| l != "C" && l != "POSIX")
        && let Some(list) = set("LANGUAGE")
    {
        for tag in list.split(':') {
            let catalogue = Catalogue::for_language(tag);
            if primary_subtag(tag) == catalogue.code() {
                return catalogue.code();
            }
        }
    }
    locale.map_or("en", |l| Catalogue::for_language(&l).code())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    const CATEGORIES: [&str; 5] = ["zero", "one", "two", "few", "many"];

    /// `{name}` placeholders and tags of a catalogue text, sorted.
    fn holes(text: &str) -> Vec<String> {
        let mut found: Vec<String> = text
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| format!("{{{name}}}")))
            .chain(
                text.split('<')
                    .skip(1)
                    .filter_map(|rest| rest.split_once('>').map(|(tag, _)| format!("<{tag}>"))),
            )
            .collect();
        found.sort();
        found
    }

    /// A plural form English does not have (`x.few` beside English's `x.other`).
    fn is_extra_plural_form(key: &str, english: &BTreeMap<String, String>) -> bool {
        key.rsplit_once('.').is_some_and(|(base, category)| {
            CATEGORIES.contains(&category) && english.contains_key(&format!("{base}.other"))
        })
    }

    #[test]
    fn every_catalogue_has_every_text_with_its_placeholders() {
        let english: BTreeMap<String, String> =
            serde_json::from_str(CATALOGUES[0].1).expect("en.json");
        for (language, json) in CATALOGUES {
            let theirs: BTreeMap<String, String> = serde_json::from_str(json)
                .unwrap_or_else(|error| panic!("{language}.json: {error}"));
            let missing: Vec<&String> = english
                .keys()
                .filter(|k| !theirs.contains_key(*k))
                .collect();
            let extra: Vec<&String> = theirs
                .keys()
                .filter(|k| !english.contains_key(*k) && !is_extra_plural_form(k, &english))
                .collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{language}: missing {missing:?}, extra {extra:?}"
            );
            for (key, text) in &theirs {
                let base = key.rsplit_once('.').map_or(key.as_str(), |(b, _)| b);
                let original = english
                    .get(key)
                    .or_else(|| english.get(&format!("{base}.other")))
                    .expect("checked above");
                let strip = |h: &String| !h.starts_with("<a href");
                assert!(
                    holes(text)
                        .iter()
                        .filter(|h| strip(h))
                        .eq(holes(original).iter().filter(|h| strip(h))),
                    "{language}.json {key}: other placeholders or tags than en.json"
                );
            }
            // Every plural form this language uses is there.
            for base in english.keys().filter_map(|k| k.strip_suffix(".other")) {
                for n in 0..200 {
                    let key = format!("{base}.{}", plural_category(language, n));
                    assert!(theirs.contains_key(&key), "{language}.json lacks {key}");
                }
            }
        }
    }

    #[test]
    fn plural_categories_follow_cldr() {
        let ru: Vec<&str> = [1, 2, 5, 11, 12, 21, 22, 25, 101, 111]
            .iter()
            .map(|&n| plural_category("ru", n))
            .collect();
        assert_eq!(
            ru,
            [
                "one", "few", "many", "many", "many", "one", "few", "many", "one", "many"
            ]
        );
        assert_eq!(plural_category("fr", 0), "one");
        assert_eq!(plural_category("de", 0), "other");
        assert_eq!(plural_category("en", 1), "one");
    }

    #[test]
    fn texts_are_filled_in_and_fall_back_to_english() {
        let ru = Catalogue::for_language("ru_RU.UTF-8");
        assert_eq!(ru.code(), "ru");
        assert_eq!(ru.count("summary.people", 3), "3 человека");
        assert_eq!(ru.count("summary.people", 5), "5 человек");
        let de = Catalogue::for_language("de-AT");
        assert_eq!(
            de.text("app.port-busy", &[("port", &5000)]),
            "Port 5000 ist belegt: Ein anderes Programm verwendet ihn."
        );
        assert_eq!(Catalogue::for_language("xx").code(), "en");
        assert_eq!(de.text("no.such.key", &[]), "no.such.key");
        assert_eq!(fill("{a} and {b}", &[("a", &1)]), "1 and {b}");
        assert_eq!(fill("open { brace", &[]), "open { brace");
    }

    #[test]
    fn the_system_language_is_read_as_posix_programs_read_it() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(system_language(env(&[("LANG", "ru_RU.UTF-8")])), "ru");
        assert_eq!(
            system_language(env(&[("LANG", "de_DE.UTF-8"), ("LC_ALL", "fr_FR.UTF-8")])),
            "fr"
        );
        assert_eq!(
            system_language(env(&[("LANG", "de_DE.UTF-8"), ("LANGUAGE", "pt:uz:en")])),
            "uz"
        );
        assert_eq!(
            system_language(env(&[("LANG", "C"), ("LANGUAGE", "de")])),
            "en"
        );
        assert_eq!(system_language(env(&[])), "en");
    }
}
