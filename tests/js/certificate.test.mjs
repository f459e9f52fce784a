// Protects the certificate of a running server: the user's files replaced on disk (as a certbot
// renewal leaves them) and a generated certificate near its end are served to new connections
// after SIGHUP (`systemctl reload`), with no restart, while the people already in a meeting
// stay in it; a bad file keeps the certificate in use. The hourly check runs the same code. The
// mDNS announcement's copy of the fingerprint: lan.test.mjs.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  closeAll,
  connected,
  get,
  join,
  lineMatching,
  makeCertificate,
  servedFingerprint,
  startServer,
} from "./fixture.mjs";

afterEach(closeAll);

const httpsPort = async (server) =>
  Number((await lineMatching(server, /^HTTPS on https:\/\/[\d.]+:(\d+)/)).match(/:(\d+) \(/)[1]);

test("the user's certificate files changed on disk are served after SIGHUP, the meeting goes on, and a bad file keeps the one in use", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-cert-files-"));
  const first = makeCertificate(dir, "first");
  const second = makeCertificate(dir, "second");
  const [cert, key] = [path.join(dir, "site.crt"), path.join(dir, "site.key")];
  fs.copyFileSync(first.cert, cert);
  fs.copyFileSync(first.key, key);
  const server = await startServer(["--tls-cert", cert, "--tls-key", key, "--tls-port", "0"]);
  try {
    const port = await httpsPort(server);
    const https = `https://127.0.0.1:${port}`;
    assert.equal(await servedFingerprint(port), first.fingerprint);
    // Two people in a meeting over HTTPS, through the renewal.
    const ann = await connected(https, { rejectUnauthorized: false });
    const bob = await connected(https, { rejectUnauthorized: false });
    await join(ann, "through-renewal", "Ann");
    const joined = ann.next("user-joined");
    await join(bob, "through-renewal", "Bob");
    await joined;

    // What certbot does: the new pair written over the old files. Nothing changes until asked.
    fs.copyFileSync(second.cert, cert);
    fs.copyFileSync(second.key, key);
    assert.equal(await servedFingerprint(port), first.fingerprint, "read again only on a check");
    server.proc.kill("SIGHUP");
    await lineMatching(server, new RegExp(`^HTTPS certificate now SHA-256 ${second.fingerprint}$`));
    assert.equal(await servedFingerprint(port), second.fingerprint);
    const trust = await get(`${server.url}/trust`);
    assert.ok(trust.body.includes(second.fingerprint), "/trust shows the new fingerprint");
    assert.equal((await get(`${server.url}/trust/certificate.crt`)).body, second.pem);
    assert.equal(JSON.parse((await get(`${server.url}/api/meeting`)).body).fingerprint, second.fingerprint);
    assert.match(server.logs(), /TLS certificate files changed on disk and were read again/);

    // The connections made before it still carry the meeting.
    const signal = bob.next("signal");
    ann.emit("signal", { to: bob.id, signal: { type: "offer", sdp: "after the renewal" } });
    assert.equal((await signal).signal.sdp, "after the renewal");

    // A half-written key: refused with its path, the good certificate stays, the server too.
    fs.writeFileSync(key, "-----BEGIN PRIVATE KEY-----\ncut off");
    server.proc.kill("SIGHUP");
    await lineMatching(server, /cannot refresh the TLS certificate; still serving the one in use/, {
      stream: "stderr",
    });
    assert.match(server.logs(), /site\.key is not a usable PEM private key/);
    assert.equal(await servedFingerprint(port), second.fingerprint);
    const late = await connected(https, { rejectUnauthorized: false });
    assert.equal((await join(late, "through-renewal", "Cy")).length, 2);
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("a generated certificate with under 30 days left is made again by the running server, a year on", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fm-cert-aged-"));
  // The server's clock moves when this file does (libfaketime, read on every call); its timers
  // keep the real monotonic clock.
  const clock = path.join(dir, "clock");
  fs.writeFileSync(clock, "+0d\n");
  const env = {
    LD_PRELOAD: "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    FAKETIME_TIMESTAMP_FILE: clock,
    FAKETIME_NO_CACHE: "1",
    FAKETIME_DONT_FAKE_MONOTONIC: "1",
    // The check that keeps a good certificate says so at debug.
    RUST_LOG: "info,free_meetings::server=debug",
  };
  const server = await startServer(["--tls", "--tls-port", "0", "--tls-dir", path.join(dir, "tls")], { env });
  try {
    const port = await httpsPort(server);
    const printed = (await lineMatching(server, /^HTTPS on /)).match(/SHA-256 ([0-9A-F:]+)/)[1];
    assert.equal(await servedFingerprint(port), printed);
    // 360 days on, 37 are left: kept.
    fs.writeFileSync(clock, "+360d\n");
    server.proc.kill("SIGHUP");
    await lineMatching(server, /the TLS certificate is still good/, { stream: "stderr" });
    assert.doesNotMatch(server.out.stdout, /HTTPS certificate now/);
    // 385 days on, 12 are left: made again, and served.
    fs.writeFileSync(clock, "+385d\n");
    server.proc.kill("SIGHUP");
    const renewed = (await lineMatching(server, /^HTTPS certificate now SHA-256 /)).match(/SHA-256 ([0-9A-F:]+)/)[1];
    assert.notEqual(renewed, printed);
    assert.equal(await servedFingerprint(port), renewed);
    assert.match(server.logs(), /TLS certificate renewed.*why=it has 1[12] days left/);
    assert.equal(
      new crypto.X509Certificate(fs.readFileSync(path.join(dir, "tls", "cert.pem"))).fingerprint256,
      renewed,
      "the new one is kept for the next start",
    );
  } finally {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
