// Protects what the .deb installs. The test command builds it (`npx tauri build --bundles deb`,
// the release build people get) and names it in FM_DEB; this file installs it with dpkg into a
// fresh root and checks that every file tauri.conf.json and the README promise is there and
// works from there: the metadata, the binaries, the service unit (verified and scored inside that
// root, so its ExecStart is the installed binary), the man pages, the completions, the menu entry
// and its icon, the licences; and that removing the package leaves no file behind.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { NEEDS_ROOT } from "./fixture.mjs";

const DEB = process.env.FM_DEB;
const skip = NEEDS_ROOT || (DEB ? false : "FM_DEB names no .deb (the test command builds one and sets it)");

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  if (result.error) throw result.error;
  return result;
}

function ok(command, args, options) {
  const result = run(command, args, options);
  assert.equal(result.status, 0, `${command} ${args.join(" ")}:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

let root;
before(() => {
  if (skip) return;
  assert.ok(fs.existsSync(DEB), `FM_DEB=${DEB} does not exist`);
  // An empty dpkg database: nothing installed, so the package brings every file it needs.
  root = fs.mkdtempSync(path.join(os.tmpdir(), "fm-deb-root-"));
  for (const dir of ["var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"])
    fs.mkdirSync(path.join(root, dir), { recursive: true });
  fs.writeFileSync(path.join(root, "var/lib/dpkg/status"), "");
  // The root has none of the libraries the package depends on (WebKitGTK): dpkg is told to go
  // on; the Depends field is checked below instead.
  ok("dpkg", [`--root=${root}`, "--force-depends", "--force-script-chrootless", "-i", DEB]);
});
after(() => root && fs.rmSync(root, { recursive: true, force: true }));

const inRoot = (file) => path.join(root, file);

test("the package's name and metadata: no space in the file name, maintainer, homepage, section, what it depends on", {
  skip,
}, () => {
  assert.match(path.basename(DEB), /^free-meetings_\d+\.\d+\.\d+_amd64\.deb$/);
  const fields = Object.fromEntries(
    ok("dpkg-deb", ["--field", DEB])
      .split("\n")
      .filter((line) => /^\S+: /.test(line))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]),
  );
  assert.equal(fields.Package, "free-meetings");
  assert.match(fields.Maintainer, /\S/);
  assert.equal(fields.Homepage, "https://github.com/free-meetings/free-meetings");
  assert.equal(fields.Section, "net");
  assert.match(fields.Depends, /libwebkit2gtk-4\.1-0/, "the window needs WebKitGTK");
  assert.match(fields.Description, /signaling hub/);
});

test("every file promised is installed, the binaries run from the root, and the licences are there", { skip }, () => {
  const listed = new Set(ok("dpkg", [`--root=${root}`, "-L", "free-meetings"]).split("\n"));
  const promised = [
    "/usr/bin/free-meetings",
    "/usr/bin/free-meetings-desktop",
    "/usr/bin/free-meetings-window",
    "/usr/lib/systemd/system/free-meetings.service",
    "/usr/share/applications/free-meetings.desktop",
    "/usr/share/bash-completion/completions/free-meetings",
    "/usr/share/zsh/vendor-completions/_free-meetings",
    "/usr/share/fish/vendor_completions.d/free-meetings.fish",
    "/usr/share/doc/free-meetings/LICENSE-MIT",
    "/usr/share/doc/free-meetings/LICENSE-APACHE",
    "/usr/share/doc/free-meetings/LICENSE-menu-sans.txt",
    "/usr/share/doc/free-meetings/copyright",
  ];
  const manPages = ["", "-serve", "-discover", "-config", "-config-check", "-completions", "-tls", "-tls-export"].map(
    (page) => `/usr/share/man/man1/free-meetings${page}.1.gz`,
  );
  for (const file of [...promised, ...manPages]) {
    assert.ok(listed.has(file), `dpkg lists ${file}`);
    assert.ok(fs.statSync(inRoot(file)).size > 0, `${file} is not empty`);
  }
  const version = ok(inRoot("/usr/bin/free-meetings"), ["--version"]);
  assert.match(version, /^free-meetings \d+\.\d+\.\d+/);
  assert.match(ok(inRoot("/usr/bin/free-meetings"), ["serve", "--help"]), /--config <FILE>/);
  assert.match(ok(inRoot("/usr/bin/free-meetings-desktop"), ["--help"]), /--minimized/);
  // Release builds are stripped (see Cargo.toml): no symbol table in what people download.
  for (const binary of ["free-meetings", "free-meetings-desktop", "free-meetings-window"])
    assert.doesNotMatch(ok("file", [inRoot(`/usr/bin/${binary}`)]), /not stripped/, binary);
  assert.match(fs.readFileSync(inRoot("/usr/share/doc/free-meetings/LICENSE-MIT"), "utf8"), /MIT License/);
  assert.match(fs.readFileSync(inRoot("/usr/share/doc/free-meetings/LICENSE-APACHE"), "utf8"), /Apache License/);
  // Debian's machine-readable copyright file, which every package carries.
  const copyright = fs.readFileSync(inRoot("/usr/share/doc/free-meetings/copyright"), "utf8");
  assert.match(copyright, /^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/$/m);
  assert.match(copyright, /^License: MIT or Apache-2\.0$/m);
  // Icons only where the icon theme looks (a size directory such as 256x256@2 is not one).
  for (const file of listed)
    if (file.startsWith("/usr/share/icons/hicolor/") && file.endsWith(".png"))
      assert.match(file, /^\/usr\/share\/icons\/hicolor\/\d+x\d+\/apps\/[^/]+\.png$/);
});

test("the installed service unit verifies and scores OK inside the root, and starts the installed binary", {
  skip,
}, () => {
  const unit = fs.readFileSync(inRoot("/usr/lib/systemd/system/free-meetings.service"), "utf8");
  const exec = unit.match(/^ExecStart=(\S+)/m)[1];
  assert.ok(fs.existsSync(inRoot(exec)), `ExecStart names ${exec}, which the package installs`);
  // What a Debian system under the package has and the unit relies on: systemd's own units
  // (its targets) and kill (ExecReload), from this machine's; the package's files are its own.
  fs.cpSync("/usr/lib/systemd/system", inRoot("/usr/lib/systemd/system"), { recursive: true, force: false });
  fs.mkdirSync(inRoot("/usr/bin"), { recursive: true });
  fs.copyFileSync(fs.realpathSync("/bin/kill"), inRoot("/usr/bin/kill"));
  if (!fs.existsSync(inRoot("/bin"))) fs.symlinkSync("usr/bin", inRoot("/bin"));
  const verify = run("systemd-analyze", ["verify", `--root=${root}`, "free-meetings.service"]);
  assert.equal(verify.status, 0, verify.stderr);
  assert.equal(verify.stderr.trim(), "", "no warning");
  const security = run("systemd-analyze", [
    "security",
    "--offline=yes",
    `--root=${root}`,
    "--threshold=20",
    "free-meetings.service",
  ]);
  const score = Number(security.stdout.match(/Overall exposure level for free-meetings\.service: ([\d.]+)/)?.[1]);
  assert.ok(score <= 2.0, `exposure ${score} (2.0 or lower is "OK"):\n${security.stdout.slice(-400)}`);
  // Installed disabled: nothing links it into a target.
  assert.equal(fs.existsSync(inRoot("/etc/systemd/system/multi-user.target.wants/free-meetings.service")), false);
});

test("the man pages render from the root, and the menu entry's command and icon are installed", { skip }, () => {
  const page = run("man", ["-l", inRoot("/usr/share/man/man1/free-meetings-serve.1.gz")], {
    env: { ...process.env, MANWIDTH: "100", MAN_KEEP_FORMATTING: "0", PAGER: "cat" },
  });
  assert.equal(page.status, 0, page.stderr);
  assert.match(page.stdout, /--tls-cert/);
  const entry = fs.readFileSync(inRoot("/usr/share/applications/free-meetings.desktop"), "utf8");
  const validate = run("desktop-file-validate", [inRoot("/usr/share/applications/free-meetings.desktop")]);
  assert.equal(validate.status, 0, validate.stdout + validate.stderr);
  assert.match(entry, /^Categories=Network;VideoConference;$/m);
  const exec = entry.match(/^Exec=(\S+)/m)[1];
  assert.ok(fs.existsSync(inRoot(`/usr/bin/${exec}`)), `Exec=${exec} is installed`);
  const icon = entry.match(/^Icon=(\S+)/m)[1];
  // The autostart entry the app writes names the same icon (desktop/src/autostart.rs).
  assert.equal(icon, "free-meetings-window");
  const icons = ok("dpkg", [`--root=${root}`, "-L", "free-meetings"])
    .split("\n")
    .filter((file) => file.startsWith("/usr/share/icons/") && path.basename(file, ".png") === icon);
  assert.ok(icons.length > 0, `an icon named ${icon} is installed`);
  for (const file of icons) assert.ok(fs.statSync(inRoot(file)).size > 0, file);
});

test("removing the package leaves none of its files behind", { skip }, () => {
  const files = ok("dpkg", [`--root=${root}`, "-L", "free-meetings"])
    .split("\n")
    .filter((file) => file && fs.existsSync(inRoot(file)) && !fs.statSync(inRoot(file)).isDirectory());
  assert.ok(files.length > 20, files.join("\n"));
  ok("dpkg", [`--root=${root}`, "--force-script-chrootless", "--purge", "free-meetings"]);
  const left = files.filter((file) => fs.existsSync(inRoot(file)));
  assert.deepEqual(left, [], "left behind");
  assert.equal(run("dpkg", [`--root=${root}`, "-s", "free-meetings"]).status, 1, "no longer installed");
});
