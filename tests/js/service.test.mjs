// Protects the systemd units in deploy/ (the .deb installs free-meetings.service): systemd accepts
// them (`systemd-analyze verify`), they rate 2.0 or lower ("OK") in `systemd-analyze security`,
// and the server started as the unit starts it (its ExecStart, with the directories systemd
// makes for it: STATE_DIRECTORY, CONFIGURATION_DIRECTORY) reads /etc/free-meetings/config.toml's
// stand-in and keeps its certificate and meetings file in its state directory. systemd is not
// the init of a CI container, so the unit's sandbox itself is not started here.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { BIN, freePort, health, lineMatching, ROOT, spawnCollecting } from "./fixture.mjs";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-service-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const UNITS = ["free-meetings.service", "free-meetings-cluster.service"];

/** The unit with its ExecStart pointing at the binary under test (verify wants it to exist). */
function unitUnderTest(name) {
  const text = fs.readFileSync(path.join(ROOT, "deploy", name), "utf8").replaceAll("/usr/bin/free-meetings", BIN);
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return { file, text };
}

for (const name of UNITS) {
  test(`${name}: systemd accepts it and rates it 2.0 or lower`, () => {
    const { file } = unitUnderTest(name);
    const verify = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    assert.equal(verify.status, 0, verify.stderr);
    assert.equal(verify.stderr.trim(), "", "no warning from verify");
    const security = spawnSync("systemd-analyze", ["security", "--offline=true", file], { encoding: "utf8" });
    const overall = security.stdout.match(/Overall exposure level for \S+: ([\d.]+) (\w+)/);
    assert.ok(overall, security.stdout + security.stderr);
    console.log(`${name}: systemd-analyze security ${overall[1]} ${overall[2]}`);
    assert.ok(Number(overall[1]) <= 2.0, `exposure ${overall[1]}:\n${security.stdout}`);
  });
}

test("started as free-meetings.service starts it: the configuration directory's config.toml is read, the certificate and meetings file land in the state directory", async () => {
  const { text } = unitUnderTest("free-meetings.service");
  const exec = text.match(/^ExecStart=(.*)$/m)[1].split(/\s+/);
  assert.equal(exec[0], BIN);
  const state = path.join(dir, "state");
  const configuration = path.join(dir, "etc");
  fs.mkdirSync(state, { mode: 0o700 });
  fs.mkdirSync(configuration);
  const [port, tlsPort] = [await freePort(), await freePort()];
  fs.writeFileSync(
    path.join(configuration, "config.toml"),
    `bind = "127.0.0.1"\nport = ${port}\ntls = true\ntls-port = ${tlsPort}\nno-mdns = true\nmedia-port = 0\n`,
  );
  const env = {
    PATH: process.env.PATH,
    STATE_DIRECTORY: state,
    CONFIGURATION_DIRECTORY: configuration,
    RUST_LOG: "info",
  };
  const checked = execFileSync(exec[0], ["config", "check"], { env, encoding: "utf8" });
  assert.match(checked, /^# configuration file: .*etc\/config\.toml$/m);
  assert.match(checked, new RegExp(`^port = "${port}" +# file$`, "m"));
  const server = spawnCollecting(exec[0], exec.slice(1), { env, cwd: "/" });
  try {
    await lineMatching(server, /^HTTPS on https:\/\/127\.0\.0\.1:\d+/);
    assert.equal((await health(`http://127.0.0.1:${port}`)).status, 200);
    const tls = fs.readdirSync(path.join(state, "tls")).sort();
    assert.ok(
      tls.some((f) => f.endsWith(".pem")),
      `the certificate in the state directory: ${tls}`,
    );
    const key = tls.find((f) => /key/.test(f));
    assert.equal(fs.statSync(path.join(state, "tls", key)).mode & 0o077, 0, "the key is the service's alone");
    assert.match(server.out.stderr, new RegExp(`private meetings kept in .*file=${state}/meetings\\.json`));
  } finally {
    server.proc.kill("SIGTERM");
    assert.equal(await server.exited, 0, server.out.stderr);
  }
});
