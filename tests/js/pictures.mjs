// Pictures the tests take are checked, not kept blindly: each is compared with its reference in
// tests/pictures/, and a test fails when its picture is blank (one colour over almost all of
// it) or differs from the reference past the tolerance (pixelmatch: a perceptual per-pixel
// test, then a share of differing pixels). Fake camera frames and other moving parts are masked
// in the checked picture (`maskedShot`), so they never count; the README's copy in docs/ is the
// same screenshot unmasked. A failed comparison leaves the new picture and a diff in
// target/pictures/. Updating the references and the README's pictures together is one command:
// ./scripts/update-pictures.sh (FM_UPDATE_PICTURES=1); a test run writes neither.
import fs from "node:fs";
import path from "node:path";
import pixelmatch from "pixelmatch";
import { PNG } from "pngjs";

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const REFERENCES = path.join(ROOT, "tests", "pictures");
const README_PICTURES = path.join(ROOT, "docs");
const FAILED = path.join(ROOT, "target", "pictures");
const UPDATE = process.env.FM_UPDATE_PICTURES === "1";
/** The share of pixels that may differ from the reference. */
const TOLERANCE = 0.03;
/** The share of the picture one colour may cover before it counts as blank. */
const BLANK = 0.97;
/** What masked areas are painted with, in the reference and the new picture alike. */
export const MASK_COLOUR = "#3a3f47";

/** The share of `png`'s pixels that have its most common colour. */
function commonest(png) {
  const counts = new Map();
  let top = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const key = png.data.readUInt32BE(i);
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    if (n > top) top = n;
  }
  return top / (png.width * png.height);
}

/** Checks the picture `name` (a PNG buffer) against tests/pictures/`name`; throws on a blank
 * picture, a missing reference or a change past the tolerance. With FM_UPDATE_PICTURES=1 it
 * becomes the reference instead (still refused when blank), and `readme` (the unmasked
 * picture; `buffer` itself by default) the README's docs/`name`. */
export function checkPicture(name, buffer, { tolerance = TOLERANCE, readme = buffer } = {}) {
  const shot = PNG.sync.read(buffer);
  const share = commonest(shot);
  if (share > BLANK) {
    keepFailed(name, buffer);
    throw new Error(`picture ${name} is blank: one colour covers ${(share * 100).toFixed(1)}% of it`);
  }
  const referenceFile = path.join(REFERENCES, name);
  if (UPDATE) {
    fs.mkdirSync(REFERENCES, { recursive: true });
    fs.writeFileSync(referenceFile, buffer);
    fs.writeFileSync(path.join(README_PICTURES, name), readme);
    return { updated: true };
  }
  if (!fs.existsSync(referenceFile)) {
    keepFailed(name, buffer);
    throw new Error(`picture ${name} has no reference in tests/pictures/: run ./scripts/update-pictures.sh`);
  }
  const reference = PNG.sync.read(fs.readFileSync(referenceFile));
  if (reference.width !== shot.width || reference.height !== shot.height) {
    keepFailed(name, buffer);
    throw new Error(
      `picture ${name} is ${shot.width}x${shot.height}, its reference ${reference.width}x${reference.height}`,
    );
  }
  const diff = new PNG({ width: shot.width, height: shot.height });
  const differing = pixelmatch(reference.data, shot.data, diff.data, shot.width, shot.height, { threshold: 0.15 });
  const changed = differing / (shot.width * shot.height);
  if (changed > tolerance) {
    keepFailed(name, buffer, PNG.sync.write(diff));
    throw new Error(
      `picture ${name} differs from tests/pictures/${name} in ${(changed * 100).toFixed(1)}% of its pixels (tolerance ${tolerance * 100}%): see target/pictures/; if the change is meant, ./scripts/update-pictures.sh`,
    );
  }
  console.log(`picture ${name}: ${(changed * 100).toFixed(2)}% of pixels differ from its reference`);
  return { changed };
}

function keepFailed(name, buffer, diff) {
  fs.mkdirSync(FAILED, { recursive: true });
  fs.writeFileSync(path.join(FAILED, name), buffer);
  if (diff) fs.writeFileSync(path.join(FAILED, name.replace(/\.png$/, ".diff.png")), diff);
}

/** What moves with the sound and the network, held still in the checked picture: the speaking
 * ring and bars (on a phone-sized picture three rings are over 3% of the pixels, and whether
 * anyone speaks at that instant is chance), and the connection bars. Set through the CSSOM,
 * which the pages' Content-Security-Policy allows (an injected style sheet it would refuse). */
const still = (hold) => {
  for (const el of document.querySelectorAll(".tile")) el.style.outlineColor = hold ? "transparent" : "";
  for (const el of document.querySelectorAll(".speaking-mark, .link-mark")) el.style.visibility = hold ? "hidden" : "";
};

/** A screenshot of a page, checked as `name` with what moves masked (videos, the address with
 * its port, times; `mask`: more selectors) or held still (`still`); the README's copy is the
 * same moment as it is. */
export async function maskedShot(page, name, { mask = [], ...options } = {}) {
  const selectors = ["video", "#where", "time", "meter", ...mask];
  const shot = { animations: "disabled", caret: "hide", ...options };
  const readme = UPDATE ? await page.screenshot(shot) : undefined;
  await page.evaluate(still, true);
  let buffer;
  try {
    buffer = await page.screenshot({ ...shot, mask: selectors.map((s) => page.locator(s)), maskColor: MASK_COLOUR });
  } finally {
    await page.evaluate(still, false);
  }
  return checkPicture(name, buffer, { readme: readme ?? buffer });
}
