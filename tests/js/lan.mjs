// A simulated LAN for the tests that cross machines: network namespaces joined by a bridge, with
// test addresses the tests choose. Traffic stays inside these namespaces.
import { execFileSync } from "node:child_process";
import { BIN, lineMatching, spawnCollecting } from "./fixture.mjs";

export const isRoot = process.getuid?.() === 0;
/** What a test that needs namespaces says when it cannot have them. */
export const NEEDS_ROOT = isRoot ? false : "needs root to create network namespaces (CI runs as root)";
const prefix = `fm${process.pid}`;

function ip(...args) {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Creates namespaces `hosts` ({a: "10.77.0.1", ...}) on one bridged segment. */
export function createLan(hosts) {
  const lan = `${prefix}-lan`;
  const ns = (name) => `${prefix}-${name}`;
  const created = [lan];
  const add = (name) => {
    ip("netns", "add", name);
    created.push(name);
  };
  add(lan);
  ip("-n", lan, "link", "add", "br0", "type", "bridge");
  ip("-n", lan, "link", "set", "br0", "up");
  for (const [name, address] of Object.entries(hosts)) {
    add(ns(name));
    ip("link", "add", "lan0", "netns", ns(name), "type", "veth", "peer", "name", `p-${name}`, "netns", lan);
    ip("-n", lan, "link", "set", `p-${name}`, "master", "br0");
    ip("-n", lan, "link", "set", `p-${name}`, "up");
    ip("-n", ns(name), "link", "set", "lo", "up");
    ip("-n", ns(name), "link", "set", "lan0", "up");
    ip("-n", ns(name), "addr", "add", `${address}/24`, "dev", "lan0");
    ip("-n", ns(name), "route", "add", "224.0.0.0/4", "dev", "lan0");
  }
  return {
    ns,
    /** Adds a namespace with no link to anyone: multicast reaches nobody from there. */
    isolated(name, address) {
      add(ns(name));
      ip("-n", ns(name), "link", "set", "lo", "up");
      // A link to nowhere: a veth pair with both ends in this namespace.
      ip("-n", ns(name), "link", "add", "lan0", "type", "veth", "peer", "name", "nowhere");
      ip("-n", ns(name), "link", "set", "nowhere", "up");
      ip("-n", ns(name), "link", "set", "lan0", "up");
      ip("-n", ns(name), "addr", "add", `${address}/24`, "dev", "lan0");
    },
    /** Moves a host to another address, as a DHCP renewal or a new network would. */
    readdress(name, from, to) {
      ip("-n", ns(name), "addr", "del", `${from}/24`, "dev", "lan0");
      ip("-n", ns(name), "addr", "add", `${to}/24`, "dev", "lan0");
    },
    destroy() {
      for (const name of created.reverse()) {
        try {
          ip("netns", "del", name);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Spawns a command inside a namespace; collects its output (see `spawnCollecting`). */
export function spawnIn(namespace, command, args, options = {}) {
  return spawnCollecting("ip", ["netns", "exec", namespace, command, ...args], options);
}

/** Runs a command in a namespace to completion: {code, stdout, stderr, ms}. */
export async function runIn(namespace, command, args) {
  const started = Date.now();
  const { out, exited } = spawnIn(namespace, command, args);
  const code = await exited;
  return { code, ...out, ms: Date.now() - started };
}

/** Starts `free-meetings serve` in a namespace; resolves once it listens. */
export async function serveIn(namespace, args) {
  const server = spawnIn(namespace, BIN, ["serve", ...args], { env: { ...process.env, RUST_LOG: "info" } });
  await lineMatching(server, /listening on http/);
  return {
    ...server,
    async stop() {
      server.proc.kill("SIGTERM");
      return server.exited;
    },
  };
}
