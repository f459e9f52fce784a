// Protects the server's logs as an administrator reads them: under systemd (JOURNAL_STREAM naming
// stderr) each line carries its syslog priority and no time of its own (the journal stamps it);
// with --log-format json every line is one JSON object; at the default level no room or person's
// name is written (the dashboard treats them as private), while RUST_LOG=debug shows room names
// for whoever debugs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BIN, client, closeAll, join, lineMatching, spawnCollecting } from "./fixture.mjs";

/** Runs the server through `sh -c` (so that `JOURNAL_STREAM` can name the very pipe that is its
 * stderr, as systemd's does), has Ann join `room`, then stops it; returns its stderr. */
async function logsOf(args, { env = {}, journal = false, room = "board-meeting-q3" } = {}) {
  const serve = [BIN, "serve", "--bind", "127.0.0.1", "--port", "0", "--media-port", "0", "--no-mdns", ...args];
  const script = journal ? `JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"` : `exec "$@"`;
  const server = spawnCollecting("sh", ["-c", script, "sh", ...serve], {
    env: { ...process.env, RUST_LOG: "info", ...env },
  });
  try {
    const line = await lineMatching(server, /listening on http:\/\/[\d.]+:\d+/);
    const url = line.match(/(http:\/\/[\d.]+:\d+)/)[1];
    const ann = await client(url);
    await join(ann, room, "Annabelle");
    ann.close();
    await lineMatching(server, /left room/, { stream: "stderr" });
  } finally {
    server.proc.kill("SIGTERM");
    assert.equal(await server.exited, 0, server.out.stderr);
    closeAll();
  }
  return server.out.stderr.trim().split("\n");
}

const TIMESTAMP = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/;

test("under systemd's journal: a syslog priority on every line and no timestamp of our own", async () => {
  const lines = await logsOf([], { journal: true });
  assert.ok(lines.length > 3, lines.join("\n"));
  for (const line of lines) {
    assert.match(line, /^<[3-7]>free_meetings::/, line);
    assert.doesNotMatch(line, TIMESTAMP, line);
  }
  assert.ok(lines.some((l) => l.startsWith("<6>") && /joined room/.test(l)));
  // A JOURNAL_STREAM that names another stream (stderr redirected by hand) keeps plain text.
  const redirected = await logsOf([], { env: { JOURNAL_STREAM: "1:1" } });
  assert.match(redirected[0], TIMESTAMP);
});

test("--log-format json: every line is one JSON object with its time, level, target and message", async () => {
  const lines = await logsOf(["--log-format", "json"]);
  const events = lines.map((line) => JSON.parse(line));
  for (const event of events) {
    assert.ok(event.timestamp && event.level && event.target && event.message, JSON.stringify(event));
  }
  const joined = events.find((e) => e.message === "joined room");
  assert.ok(joined, "the join is logged");
  assert.match(joined.peer, /^[\w-]{16}$/, "the peer id, as a field of its own");
});

test("at the default level no room or person's name is logged; RUST_LOG=debug shows room names", async () => {
  const room = "acquisition-of-initech";
  const quiet = (await logsOf([], { room })).join("\n");
  assert.match(quiet, /joined room/);
  assert.ok(!quiet.includes(room), `the room's name at info:\n${quiet}`);
  assert.ok(!quiet.includes("Annabelle"), "a person's name at info");
  const verbose = (await logsOf([], { room, env: { RUST_LOG: "debug" } })).join("\n");
  assert.ok(verbose.includes(`room=${room}`), "RUST_LOG=debug shows it");
  assert.ok(!verbose.includes("Annabelle"), "a person's name is in no log line, even at debug");
});
