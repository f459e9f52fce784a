// Protects the meeting page's languages (ui/i18n/): a browser whose language is German, Uzbek or
// Russian gets the pre-join screen and the call in that language, with nothing left in English
// (no text, label, tooltip or placeholder equal to an English catalogue text that the language
// says otherwise); a language chosen in the page is remembered; a refusal from the server is
// shown by its code in the page's language, while the `error` event keeps the seed's English
// text first for front-ends that read only that. The dashboard too, with each language's plural
// forms. Real Chromium on loopback, the server's own
// catalogues.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromiumOnLoopback, client, closeAll, join, ROOT, startServer } from "./fixture.mjs";
import { maskedShot } from "./pictures.mjs";

const catalogue = (code) => JSON.parse(fs.readFileSync(path.join(ROOT, "ui/i18n", `${code}.json`), "utf8"));
const english = catalogue("en");

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await chromiumOnLoopback();
});
after(async () => {
  closeAll();
  await browser?.close();
  await server?.stop();
});

/** Every text a person sees or hears on the page now: visible text, and the labels, tooltips
 * and placeholders of visible elements. */
const shownTexts = (page) =>
  page.evaluate(() => {
    const seen = new Set();
    const visible = (el) => el.checkVisibility?.() ?? true;
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent.trim();
      if (text && visible(node.parentElement)) seen.add(text);
    }
    for (const el of document.body.querySelectorAll("[aria-label], [title], [placeholder]")) {
      if (!visible(el)) continue;
      for (const attribute of ["aria-label", "title", "placeholder"]) {
        const value = el.getAttribute(attribute);
        if (value) seen.add(value.trim());
      }
    }
    seen.add(document.title);
    return [...seen];
  });

/** The shown texts that are English where `code`'s catalogue says something else. */
function leftInEnglish(texts, code) {
  const theirs = catalogue(code);
  const untranslated = new Set(
    Object.entries(english)
      .filter(([key, text]) => theirs[key] !== text && !text.includes("{"))
      .map(([, text]) => text),
  );
  return texts.filter((text) => untranslated.has(text));
}

for (const code of ["de", "uz", "ru"]) {
  test(`a browser in ${code}: the pre-join screen and the call are in that language, nothing left in English`, {
    timeout: 60000,
  }, async () => {
    const theirs = catalogue(code);
    const context = await browser.newContext({ locale: code, viewport: { width: 1280, height: 720 } });
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/r/words-${code}`);
      await page.waitForFunction((lang) => document.documentElement.lang === lang, code);
      assert.equal(await page.textContent("#join h2"), theirs["join.heading"]);
      assert.equal(await page.inputValue("#language-select"), code);
      assert.deepEqual(leftInEnglish(await shownTexts(page), code), [], "the pre-join screen");
      await page.fill("#name", "Ann");
      await page.click("#join-button");
      await page.waitForSelector("#call:not([hidden])");
      await page.waitForFunction(
        (text) => document.querySelector("#count").textContent === text,
        theirs["call.count-alone"],
      );
      assert.equal(await page.textContent("#mic"), theirs["call.mute-short"]);
      assert.deepEqual(leftInEnglish(await shownTexts(page), code), [], "the call");
      if (code === "de") await maskedShot(page, "meeting-german.png");
    } finally {
      await context.close();
    }
  });
}

test("a browser in ru: the dashboard is in Russian, with Russian plural forms, nothing left in English", {
  timeout: 60000,
}, async () => {
  const ru = catalogue("ru");
  const people = [];
  for (const name of ["Ann", "Bob"]) {
    const peer = await client(server.url);
    await join(peer, "plural-ru", name);
    people.push(peer);
  }
  const context = await browser.newContext({ locale: "ru-RU", viewport: { width: 1280, height: 900 } });
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/dashboard/`);
    await page.waitForSelector('[data-room="plural-ru"] td');
    await page.waitForFunction(() => document.querySelector("#connection").className.includes("live"));
    assert.equal(await page.textContent("#connection"), ru["dash.live"]);
    // 1 встреча (one), 2 человека (few): the forms Intl.PluralRules picks, as the tray picks them.
    assert.match(await page.textContent("#totals"), /^1 встреча, 2 человека/);
    assert.equal(await page.textContent('[data-room="plural-ru"] th'), ru["dash.col-name"]);
    assert.deepEqual(leftInEnglish(await shownTexts(page), "ru"), [], "the dashboard");
    // Switching the language in the page re-words what is already shown.
    await page.selectOption("#language", "es");
    await page.waitForFunction(() => document.documentElement.lang === "es");
    assert.match(await page.textContent("#totals"), /^1 reunión, 2 personas/);
    assert.deepEqual(leftInEnglish(await shownTexts(page), "es"), [], "the dashboard in Spanish");
  } finally {
    await context.close();
    for (const peer of people) peer.close();
  }
});

test("a language chosen in the page switches it at once and is remembered", { timeout: 60000 }, async () => {
  const context = await browser.newContext({ locale: "en-US" });
  try {
    const page = await context.newPage();
    await page.goto(`${server.url}/r/chosen`);
    await page.waitForFunction(() => document.documentElement.lang === "en");
    await page.selectOption("#language-select", "fr");
    await page.waitForFunction(() => document.documentElement.lang === "fr");
    assert.equal(await page.textContent("#join-button"), catalogue("fr")["join.submit"]);
    await page.reload();
    await page.waitForFunction(() => document.documentElement.lang === "fr");
    assert.equal(await page.textContent("#join h2"), catalogue("fr")["join.heading"]);
  } finally {
    await context.close();
  }
});

test("a refusal is shown by its code in the page's language; the error event keeps the English text first", {
  timeout: 60000,
}, async () => {
  const full = await startServer(["--max-peers-per-room", "1"]);
  const context = await browser.newContext({ locale: "de-DE" });
  try {
    // Socket.IO: the seed's text, then {code}; /ws: the text as data, the code beside it.
    const sitting = await client(full.url, "socket.io");
    await join(sitting, "klein", "Sam");
    const io = await client(full.url, "socket.io");
    const both = new Promise((resolve) => io.raw.once("error", (...args) => resolve(args)));
    io.emit("join-room", { roomId: "klein", userName: "Ida" });
    assert.deepEqual(await both, ["room 'klein' is full (1 peers)", { code: "room-full" }]);
    const ws = await client(full.url, "ws");
    ws.emit("join-room", { roomId: "klein", userName: "Wes" });
    await ws.next("error");
    assert.deepEqual(ws.frames.at(-1), { event: "error", data: "room 'klein' is full (1 peers)", code: "room-full" });

    const page = await context.newPage();
    await page.goto(`${full.url}/r/klein`);
    await page.fill("#name", "Dora");
    await page.click("#join-button");
    const expected = catalogue("de")["notice.room-full"].replace("{room}", "klein");
    await page.waitForFunction((text) => document.querySelector("#notice").textContent === text, expected);
  } finally {
    await context.close();
    await full.stop();
  }
});
