// The pages' words in the reader's language. Each language is one message catalogue,
// ui/i18n/<code>.json (flat keys, `{name}` placeholders), served at /i18n/<code>.json. The
// language is the one chosen in this browser (remembered), else the first of the browser's
// languages we have, else English; a key a catalogue lacks falls back to English. In the HTML,
// `data-i18n="key"` sets an element's text and `data-i18n-attrs="aria-label:key title:key"` its
// attributes; code calls `t(key, {name: value})`, or `tCount(key, n)` for a count. The same
// catalogues word the tray app's menu (server/src/catalogue.rs, with the same plural rules).

/** The languages there are catalogues for, by their own names. */
export const LANGUAGES = {
  en: "English",
  uz: "Oʻzbekcha",
  ru: "Русский",
  de: "Deutsch",
  fr: "Français",
  es: "Español",
};

const CHOSEN_KEY = "fm-language";
let strings = {};
let english = {};
let current = "en";

/** The language to show: the one chosen here before, else the browser's, else English. */
export function preferredLanguage() {
  const chosen = localStorage.getItem(CHOSEN_KEY);
  if (chosen && chosen in LANGUAGES) return chosen;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const code = String(tag).toLowerCase().split("-")[0];
    if (code in LANGUAGES) return code;
  }
  return "en";
}

async function catalogue(code) {
  const response = await fetch(`/i18n/${code}.json`);
  if (!response.ok) throw new Error(`no catalogue for ${code}: ${response.status}`);
  return response.json();
}

/** Loads `code` (remembering it when `remember`), then translates the document. */
export async function useLanguage(code, { remember = false } = {}) {
  if (!(code in LANGUAGES)) code = "en";
  if (!Object.keys(english).length) english = await catalogue("en");
  strings = code === "en" ? english : await catalogue(code).catch(() => english);
  current = code;
  if (remember) localStorage.setItem(CHOSEN_KEY, code);
  document.documentElement.lang = code;
  translate(document);
  return code;
}

/** The language shown now. */
export const language = () => current;

/** The text of `key` with its `{placeholders}` filled in. */
export function t(key, values = {}) {
  const text = strings[key] ?? english[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** The text of `key` for the count `n`, in this language's plural form for it (the catalogue
 * has `key.one`, `key.other`, and in Russian `key.few` and `key.many`). */
export function tCount(key, n) {
  const form = new Intl.PluralRules(current).select(n);
  const forms = [`${key}.${form}`, `${key}.other`];
  const found = forms.find((k) => k in strings) ?? forms.find((k) => k in english) ?? key;
  return t(found, { n });
}

const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => String(text).replace(/[&<>"']/g, (c) => escapes[c]);

/** `t` for a catalogue text that holds markup (a link, code): the values are escaped, the
 * catalogue's own markup kept (the catalogues are ours, served by the server). */
export function tHtml(key, values = {}) {
  const escaped = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, escapeHtml(v)]));
  return t(key, escaped);
}

/** Sets the text and attributes of every marked element under `root`. */
export function translate(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attrs]")) {
    for (const pair of el.dataset.i18nAttrs.split(/\s+/).filter(Boolean)) {
      const [attribute, key] = pair.split(":");
      el.setAttribute(attribute, t(key));
    }
  }
}

/** Fills a `<select>` with the languages, the current one chosen; choosing one switches. */
export function languagePicker(select, onChange = () => {}) {
  select.replaceChildren(
    ...Object.entries(LANGUAGES).map(([code, name]) => {
      const option = document.createElement("option");
      option.value = code;
      option.lang = code;
      option.textContent = name;
      option.selected = code === current;
      return option;
    }),
  );
  select.addEventListener("change", async () => {
    await useLanguage(select.value, { remember: true });
    onChange();
  });
}
