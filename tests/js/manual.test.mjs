// Protects what the .deb installs for people who read manuals and press Tab: man pages generated
// from the clap definitions (every option of `serve` documented, rendered by groff without a
// warning) and shell completions (bash completes commands and options; zsh and fish scripts are
// generated).
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { BIN } from "./fixture.mjs";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-manual-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test("man pages for the program and each command, every serve option in its page, rendered without a warning by groff", () => {
  execFileSync(BIN, ["man", "--dir", dir]);
  const pages = fs.readdirSync(dir).sort();
  assert.deepEqual(pages, [
    "free-meetings-completions.1",
    "free-meetings-config-check.1",
    "free-meetings-config.1",
    "free-meetings-discover.1",
    "free-meetings-serve.1",
    "free-meetings-tls-export.1",
    "free-meetings-tls.1",
    "free-meetings.1",
  ]);
  // groff as man runs it (preconv for UTF-8), with every warning on, no hyphenation and long
  // lines so that each option reads whole.
  const rendered = spawnSync(
    "groff",
    ["-k", "-man", "-Tutf8", "-P-bou", "-rHY=0", "-rLL=200n", "-ww", path.join(dir, "free-meetings-serve.1")],
    { encoding: "utf8" },
  );
  assert.equal(rendered.status, 0, rendered.stderr);
  assert.equal(rendered.stderr, "", "no warning from groff");
  const text = rendered.stdout;
  const help = execFileSync(BIN, ["serve", "--help"], { encoding: "utf8" });
  for (const option of new Set(help.match(/--[a-z][a-z-]+/g))) {
    assert.ok(text.includes(option), `${option} in free-meetings-serve(1)`);
  }
});

test("bash completes commands and options; zsh and fish scripts are generated", () => {
  const script = path.join(dir, "free-meetings.bash");
  fs.writeFileSync(script, execFileSync(BIN, ["completions", "bash"]));
  const complete = (...words) =>
    execFileSync(
      "bash",
      [
        "-c",
        `source "${script}"; COMP_WORDS=(${words.join(" ")}); COMP_CWORD=${words.length - 1}; _free__meetings free-meetings "${words.at(-1)}" "${words.at(-2)}"; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: "utf8" },
    )
      .trim()
      .split("\n");
  assert.deepEqual(complete("free-meetings", "se"), ["serve"]);
  assert.ok(complete("free-meetings", "serve", "--max-p").includes("--max-peers-per-room"));
  assert.match(execFileSync(BIN, ["completions", "zsh"], { encoding: "utf8" }), /^#compdef free-meetings/);
  assert.match(execFileSync(BIN, ["completions", "fish"], { encoding: "utf8" }), /complete -c free-meetings/);
});
