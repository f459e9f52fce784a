// Protects the meeting page's control bar and what it controls (ui/meet/): one row of icon
// buttons from 320 px to 1280 px wide, each named for screen readers by the label its tooltip
// shows; a raised hand seen by the others on the tile and in the people panel, lowered by its
// owner or, in a private meeting, by a host; joining and leaving with the keyboard alone, the
// controls reached by Tab in their visual order; single-key shortcuts listed under "?" and
// turned off there (remembered); speaker view (remembered); a connection indicator on each
// remote tile; noise suppression turned off in the devices dialog, applied to the microphone and
// remembered. Real Chromium on loopback, fake devices.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { chromiumOnLoopback, fromMenu, startServer, until } from "./fixture.mjs";
import { maskedShot } from "./pictures.mjs";

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await chromiumOnLoopback();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const CONTROLS = ["mic", "cam", "share", "hand", "chat-toggle", "people-toggle", "more", "leave"];

/** A page of its own (a context: its own storage) joined to `url` as `name`. */
async function joined(url, name, viewport = { width: 1280, height: 720 }) {
  const context = await browser.newContext({ viewport, locale: "en-US" });
  const page = await context.newPage();
  await page.goto(url);
  await page.fill("#name", name);
  await page.click("#join-button");
  await page.waitForSelector("#call:not([hidden])");
  return page;
}

/** Whether `name`'s tile on `page` shows a raised hand. */
const handShown = (page, name) =>
  page.evaluate(
    (who) =>
      [...document.querySelectorAll("#stage .tile")].some(
        (t) => t.querySelector(".name").textContent === who && !t.querySelector(".hand-mark").hidden,
      ),
    name,
  );

for (const width of [320, 1280]) {
  test(`the control bar is one row at ${width} px, each button named by its visible label`, {
    timeout: 60000,
  }, async () => {
    const page = await joined(`${server.url}/r/row-${width}`, "Ann", { width, height: 640 });
    try {
      const boxes = await page.$$eval(".controls > *", (els) =>
        els.map((el) => {
          const box = el.getBoundingClientRect();
          return { top: Math.round(box.top), left: box.left, right: box.right };
        }),
      );
      assert.equal(boxes.length, 8);
      assert.ok(
        boxes.every((b) => Math.abs(b.top - boxes[0].top) <= 1),
        `one row: ${JSON.stringify(boxes)}`,
      );
      assert.ok(
        boxes.every((b) => b.left >= 0 && b.right <= width),
        `inside the window: ${JSON.stringify(boxes)}`,
      );
      // Each button's accessible name is its label's text, which is also its tooltip.
      for (const id of CONTROLS) {
        const { label, title } = await page.$eval(`#${id}`, (b) => ({
          label: b.querySelector(".label").textContent,
          title: b.title,
        }));
        const snapshot = await page.locator(`#${id}`).ariaSnapshot();
        assert.ok(snapshot.includes(`button "${label}`), `${id}: ${snapshot} names "${label}"`);
        assert.equal(title, label, `${id}'s tooltip`);
      }
    } finally {
      await page.context().close();
    }
  });
}

test("a raised hand is seen on the tile and in the people panel, announced, and lowered by its owner", {
  timeout: 60000,
}, async () => {
  const url = `${server.url}/r/hands`;
  const ann = await joined(url, "Ann");
  const bob = await joined(url, "Bob");
  try {
    await until(() => bob.evaluate(() => fmTest.peerCount() === 1), "Bob to see Ann");
    await bob.click("#people-toggle");
    await ann.click("#hand");
    assert.equal(await ann.getAttribute("#hand", "aria-pressed"), "true");
    await until(() => handShown(bob, "Ann"), "Ann's hand on Bob's screen");
    assert.match(await bob.textContent("#people-list"), /Ann.*hand raised/);
    await until(async () => (await bob.textContent("#announcer")) === "Ann raised their hand", "the announcement");
    await maskedShot(bob, "meeting-people-hand.png", { mask: [".link-mark"] });
    // Ann's tile also says how well her video arrives, in bars and in words.
    const link = bob.locator(".tile:not(.self) .link-mark:not([hidden])");
    await link.waitFor();
    const level = await link.getAttribute("data-level");
    assert.match(
      await link.getAttribute("title"),
      new RegExp(`^Connection ${level} \\(loss \\d+%, round trip \\d+ ms\\)$`),
    );
    await ann.click("#hand");
    await until(async () => !(await handShown(bob, "Ann")), "Ann's hand lowered at Bob's");
    assert.doesNotMatch(await bob.textContent("#people-list"), /hand raised/);
  } finally {
    await ann.context().close();
    await bob.context().close();
  }
});

test("a host lowers a guest's hand from the people panel", { timeout: 60000 }, async () => {
  const context = await browser.newContext({ locale: "en-US" });
  const host = await context.newPage();
  try {
    await host.goto(`${server.url}/`);
    await host.click("#new-meeting");
    await host.waitForFunction(() => /\/r\//.test(location.pathname));
    await host.fill("#name", "Hana");
    await host.click("#join-button");
    await host.waitForSelector("#call:not([hidden])");
    const link = await host.evaluate(() => fmTest.inviteLink());
    const gus = await joined(link, "Gus");
    await gus.click("#hand");
    await host.click("#people-toggle");
    await host.click('#people-list button[aria-label="Lower hand: Gus"]');
    await gus.waitForSelector('#hand[aria-pressed="false"]');
    assert.match(await gus.textContent("#notice"), /host lowered your hand/);
    await until(async () => !(await handShown(host, "Gus")), "Gus's hand lowered at the host's");
    await gus.context().close();
  } finally {
    await context.close();
  }
});

test("join and leave with the keyboard alone; Tab reaches the controls in their order", {
  timeout: 60000,
}, async () => {
  const context = await browser.newContext({ locale: "en-US" });
  const page = await context.newPage();
  try {
    await page.goto(`${server.url}/r/keys`);
    // The page puts the focus in the name field (the room is in the link).
    await page.waitForFunction(() => document.activeElement?.id === "name");
    await page.keyboard.type("Kim");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#call:not([hidden])");
    const order = [];
    for (let i = 0; i < 40 && !order.includes("leave"); i++) {
      await page.keyboard.press("Tab");
      const id = await page.evaluate(() => document.activeElement?.id);
      if (CONTROLS.includes(id) && !order.includes(id)) order.push(id);
    }
    assert.deepEqual(order, CONTROLS, "every control, in the bar's order");
    await page.keyboard.press("Enter");
    await page.waitForSelector("#join:not([hidden])");
  } finally {
    await context.close();
  }
});

test("single-key shortcuts are listed under ? and can be turned off there, remembered", {
  timeout: 60000,
}, async () => {
  const url = `${server.url}/r/shortcuts`;
  const page = await joined(url, "Sid");
  try {
    await page.keyboard.press("h");
    assert.equal(await page.getAttribute("#hand", "aria-pressed"), "true", "h raises the hand");
    await page.keyboard.press("?");
    await page.waitForSelector("#shortcuts[open]");
    assert.match(await page.textContent("#shortcuts"), /Raise or lower your hand/);
    await page.uncheck("#shortcuts-on");
    await page.keyboard.press("Escape");
    await page.keyboard.press("h");
    assert.equal(await page.getAttribute("#hand", "aria-pressed"), "true", "h does nothing now");
    await page.reload();
    await page.fill("#name", "Sid");
    await page.click("#join-button");
    await page.waitForSelector("#call:not([hidden])");
    await page.keyboard.press("m");
    assert.equal(await page.getAttribute("#mic", "aria-pressed"), "false", "still off after a reload");
    // The menu's items are reached from the bar too.
    await fromMenu(page, "#layout");
    assert.equal(await page.textContent("#layout"), "Grid view");
  } finally {
    await page.context().close();
  }
});

test("noise suppression is on by default, turned off in the devices dialog, applied at once and remembered", {
  timeout: 60000,
}, async () => {
  const page = await joined(`${server.url}/r/noise`, "Nia");
  const suppressing = () => page.evaluate(() => fmTest.noiseSuppression());
  try {
    assert.equal(await suppressing(), true);
    await fromMenu(page, "#devices-toggle");
    await page.uncheck("#noise-suppression");
    await until(async () => (await suppressing()) === false, "the microphone without noise suppression");
    await page.reload();
    await page.fill("#name", "Nia");
    await page.click("#join-button");
    await page.waitForSelector("#call:not([hidden])");
    assert.equal(await suppressing(), false, "still off after a reload");
    assert.equal(await page.isChecked("#noise-suppression"), false);
  } finally {
    await page.context().close();
  }
});

test("speaker view shows another person large, grid view all alike; the choice is remembered", {
  timeout: 60000,
}, async () => {
  const url = `${server.url}/r/speaker`;
  const ann = await joined(url, "Ann");
  const bob = await joined(url, "Bob");
  try {
    await until(() => bob.evaluate(() => fmTest.peerCount() === 1), "Bob to see Ann");
    assert.equal(await bob.isHidden("#spotlight"), true, "a grid to start with");
    await fromMenu(bob, "#layout");
    await bob.waitForSelector("#spotlight:not([hidden]) .tile:not(.self)");
    assert.equal(await bob.textContent("#spotlight .tile .name"), "Ann");
    assert.equal(await bob.textContent("#layout"), "Grid view");
    await bob.reload();
    await bob.fill("#name", "Bob");
    await bob.click("#join-button");
    await bob.waitForSelector("#spotlight:not([hidden]) .tile:not(.self)");
    await fromMenu(bob, "#layout");
    await bob.waitForSelector("#spotlight[hidden]", { state: "attached" });
  } finally {
    await ann.context().close();
    await bob.context().close();
  }
});
