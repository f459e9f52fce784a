// Protects against slow leaks and lost signals over time: the soak (tests/js/soak.mjs) in its
// short form, 500 clients for 30 s. The 10-minute run is `./scripts/soak.sh`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { soak } from "./soak.mjs";

test("soak, 30 s: no lost signal, no unprovoked error, memory back near its warm baseline", async () => {
  const result = await soak({ clients: 500, durationS: 30, rate: 2 });
  console.log(JSON.stringify(result));
  assert.equal(result.lost, 0, "lost signals");
  assert.equal(result.unexpectedErrors, 0, `errors: ${result.errorSamples}`);
  assert.equal(result.provokedSeen, result.provoked);
  assert.ok(result.sent > 1000, `sent ${result.sent}`);
  assert.ok(result.rssEndVsBaseline <= 1.1, `RSS end/baseline ${result.rssEndVsBaseline}`);
});
