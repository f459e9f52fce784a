// Protects how an administrator configures `free-meetings serve`: a TOML file (`--config`) sets
// options by their command-line names; the environment (FREE_MEETINGS_*, and the original
// server's PORT) wins over the file and the command line over both; a key that is no option is
// refused with its line and the server does not start; `config check` prints every option with
// where it came from and never a secret; secrets can come from files, and never reach the log.
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { BIN, client, closeAll, freePort, health, join, lineMatching, spawnCollecting, startNode } from "./fixture.mjs";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-config-"));
after(() => {
  closeAll();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Writes `text` to a file of its own and returns its path. */
function file(name, text) {
  const at = path.join(dir, name);
  fs.writeFileSync(at, text, { mode: 0o600 });
  return at;
}

/** Runs `free-meetings config check` and returns {code, out, err, lines: {option: [value, source]}}. */
async function check(args, env = {}) {
  const run = spawnCollecting(BIN, ["config", "check", ...args], { env: { ...process.env, ...env } });
  const code = await run.exited;
  const lines = {};
  for (const line of run.out.stdout.split("\n")) {
    const match = line.match(/^([a-z-]+) = (.*?)\s+# (.*)$/);
    if (match) lines[match[1]] = [match[2], match[3]];
  }
  return { code, out: run.out.stdout, err: run.out.stderr, lines };
}

/** Whether a join in `room` on `url` is refused as full. */
async function joinRefusedAsFull(url, room, name) {
  const c = await client(url);
  c.emit("join-room", { roomId: room, userName: name });
  const answer = await Promise.race([c.next("init-users").then(() => "joined"), c.next("error").then(() => "full")]);
  return answer === "full";
}

test("a configuration file sets options by their command-line names; the environment and the command line win over it", async () => {
  const config = file("limits.toml", '# a room of two\nmax-peers-per-room = 2\nport = 1\nname = "From the file"\n');
  const server = await startNode(["--config", config]);
  try {
    // The file's limit holds (and its port lost to the command line's --port 0).
    assert.notEqual(server.port, 1);
    await join(await client(server.url), "pair", "Ann");
    await join(await client(server.url), "pair", "Bob");
    assert.equal(await joinRefusedAsFull(server.url, "pair", "Cat"), true, "the third is refused");
  } finally {
    await server.stop();
  }
  const wins = await startNode(["--config", config], { env: { FREE_MEETINGS_MAX_PEERS_PER_ROOM: "3" } });
  try {
    for (const name of ["Ann", "Bob", "Cat"]) await join(await client(wins.url), "trio", name);
    assert.equal(await joinRefusedAsFull(wins.url, "trio", "Dan"), true, "the environment's 3, not the file's 2");
  } finally {
    await wins.stop();
  }

  const { code, lines } = await check(["--config", config, "--name", "Given"], {
    FREE_MEETINGS_MAX_PEERS_PER_ROOM: "7",
    PORT: "6100",
  });
  assert.equal(code, 0);
  assert.deepEqual(lines["max-peers-per-room"], ['"7"', "environment"]);
  assert.deepEqual(lines.name, ['"Given"', "command line"]);
  assert.deepEqual(lines.port, ['"6100"', "environment (PORT)"], "the seed's PORT beats the file's port");
  assert.deepEqual(lines["max-connections"], ['"10000"', "default"]);
  const prefixed = await check(["--config", config], { FREE_MEETINGS_PORT: "6200", PORT: "6100" });
  assert.deepEqual(prefixed.lines.port, ['"6200"', "environment"], "FREE_MEETINGS_PORT beats PORT");
  assert.deepEqual((await check(["--config", config])).lines.port, ['"1"', "file"]);
});

test("the original server's PORT and HOST still place the server; a FREE_MEETINGS_ variable wins over them", async () => {
  const [seed, prefixed] = [await freePort(), await freePort()];
  const run = (env) =>
    spawnCollecting(BIN, ["serve", "--no-mdns", "--media-port", "0"], {
      env: { ...process.env, HOST: "127.0.0.1", FREE_MEETINGS_MEETINGS_FILE: path.join(dir, "m.json"), ...env },
    });
  for (const [env, port] of [
    [{ PORT: String(seed) }, seed],
    [{ PORT: String(seed), FREE_MEETINGS_PORT: String(prefixed) }, prefixed],
  ]) {
    const server = run(env);
    try {
      const line = await lineMatching(server, /listening on http:\/\/127\.0\.0\.1:\d+/);
      assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port} `));
      assert.equal((await health(`http://127.0.0.1:${port}`)).status, 200);
    } finally {
      server.proc.kill("SIGTERM");
      assert.equal(await server.exited, 0);
    }
  }
});

test("a key that is no option, or a value of the wrong type, is refused with its line, and nothing starts", async () => {
  const typo = file("typo.toml", "port = 6000\n\nmax-peers-per-rom = 3\n");
  const serve = spawnCollecting(BIN, ["serve", "--config", typo, "--no-mdns"]);
  assert.equal(await serve.exited, 2);
  assert.match(serve.out.stderr, /^error: .*typo\.toml line 3: unknown option 'max-peers-per-rom'/);
  assert.equal(serve.out.stdout, "", "no server started");
  const wrong = await check(["--config", file("wrong.toml", 'no-mdns = "yes"\n')]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.err, /wrong\.toml line 1: no-mdns takes true or false/);
  const invalid = await check(["--config", file("invalid.toml", "max-peers-per-room = 0\n")]);
  assert.equal(invalid.code, 2);
  assert.match(invalid.err, /^error: with .*invalid\.toml: invalid value '0' for '--max-peers-per-room/);
  const missing = await check(["--config", path.join(dir, "nowhere.toml")]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /cannot read .*nowhere\.toml: No such file/);
});

test("config check and the log never show a secret; secrets can come from files", async () => {
  const token = "token-7f3a9c2e51";
  const password = "redis-pw-91b2c4";
  const config = file("secrets.toml", `dashboard-token = "${token}"\ncluster = "redis://:${password}@127.0.0.1:1/"\n`);
  const shown = await check(["--config", config]);
  assert.equal(shown.code, 0, shown.err);
  assert.deepEqual(shown.lines["dashboard-token"], ['"****"', "file"]);
  assert.deepEqual(shown.lines.cluster, ['"redis://:****@127.0.0.1:1/"', "file"]);
  assert.ok(!shown.out.includes(token) && !shown.out.includes(password), shown.out);

  const tokenFile = file("token", `${token}\n`);
  const fromFile = await check(["--dashboard-token-file", tokenFile]);
  assert.equal(fromFile.code, 0, fromFile.err);
  assert.ok(!fromFile.out.includes(token));
  const server = await startNode(["--dashboard-token-file", tokenFile], { env: { RUST_LOG: "debug" } });
  try {
    await join(await client(server.url), "secretive", "Ann");
  } finally {
    await server.stop();
  }
  assert.ok(!server.logs().includes(token), "the token is in no log line, even at debug");

  const empty = await check(["--dashboard-token-file", file("empty", "\n")]);
  assert.equal(empty.code, 2);
  assert.match(empty.err, /--dashboard-token-file .*empty: the file is empty/);
  const both = await check(["--dashboard-token", "x", "--dashboard-token-file", tokenFile]);
  assert.equal(both.code, 2, "a token and a token file at once are refused");
});
