// A witness pair for tests that attack a server in another network namespace: two Socket.IO
// peers in a room of their own signal each other until SIGINT; every probe must arrive within
// 1 s. Prints "probing" once started; exits 0 with "every probe within 1 s", else 1.
import { withWitness } from "../js/fixture.mjs";

const url = process.argv[2];
let stop;
const stopped = new Promise((resolve) => (stop = resolve));
process.on("SIGINT", () => stop());
try {
  await withWitness(url, async () => {
    console.log("probing");
    await stopped;
  });
  console.log("every probe within 1 s");
  process.exit(0);
} catch (error) {
  console.log(`witness failed: ${error.message}`);
  process.exit(1);
}
