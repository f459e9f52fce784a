// The one fixture of the end-to-end tests, split by concern under fixture/: basics (paths,
// flags, waits), certificates (self-signed pairs, the fingerprint a server presents), processes (the real binaries, ports, HTTP, /health, /metrics), redis (cluster
// mode's Redis, Redis Cluster and HAProxy), clients (socket.io-client and ws behind one
// interface, so a test body runs on both transports; peers on threads), lan (network
// namespaces) and chromium (the meeting page in a browser). Tests import from here only;
// nothing is copied between them. Pictures are checked by pictures.mjs.
export * from "./fixture/basics.mjs";
export * from "./fixture/certificates.mjs";
export * from "./fixture/chromium.mjs";
export * from "./fixture/clients.mjs";
export * from "./fixture/lan.mjs";
export * from "./fixture/processes.mjs";
export * from "./fixture/redis.mjs";
