// The call-taker's flow in headless Chromium: log on with the one-time code, go available,
// see an offered call pop (its caller shown as text, whatever it contains), answer it.
// Driven by crates/web/tests/it/browser.rs, which starts the server and places the call; the
// two talk over stdin/stdout, one line at a time. Screenshots go to SHOTS.
import { chromium } from "playwright-core";
import * as readline from "node:readline";

const [base, username, password, totp, shots] = process.argv.slice(2);
const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
const say = (s) => process.stdout.write(s + "\n");
const hear = async () => (await lines.next()).value;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
let page;
try {
  page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  // CSP violations and failed loads are console errors, not page errors.
  page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
  page.on("dialog", (d) => { errors.push("a dialog opened: " + d.message()); d.dismiss(); });

  await page.goto(base + "/desk");
  await page.waitForURL("**/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByLabel("One-time code (authenticator)").fill(totp);
  await page.screenshot({ path: shots + "/01-logon.png" });
  await page.getByRole("button", { name: "Log on" }).click();
  await page.waitForURL("**/desk");
  await page.getByText("locks after").waitFor();

  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("button", { name: "Available" }).click();
  await page.getByTestId("agent-state").filter({ hasText: "Available" }).waitFor({ timeout: 2000 });
  await page.screenshot({ path: shots + "/02-available.png" });
  say("available");

  // The test says what number will call, then places the call and times the pop itself.
  const ani = await hear();
  const offer = page.getByTestId("offer").waitFor({ timeout: 5000 });
  say("watching");
  await offer;
  say("popped");
  const shown = await page.getByTestId("caller-number").textContent();
  if (shown.trim() !== ani.trim()) throw new Error("the caller shows as " + JSON.stringify(shown) + ", not " + JSON.stringify(ani));
  if (await page.evaluate(() => window.__xss === true)) throw new Error("the caller's number ran as script");
  if (await page.locator("[data-testid=offer] img, [data-testid=offer] b, [data-testid=offer] script").count() !== 0) throw new Error("the caller's number became markup");
  await page.screenshot({ path: shots + "/03-offered.png" });

  await page.getByRole("button", { name: "Answer" }).click();
  await page.getByTestId("agent-state").filter({ hasText: "On a call" }).waitFor({ timeout: 2000 });
  await page.screenshot({ path: shots + "/04-connected.png" });
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  say("done");
} catch (e) {
  if (page) await page.screenshot({ path: shots + "/failed.png" }).catch(() => {});
  say("error " + String(e && e.message || e).split("\n")[0]);
  process.exitCode = 1;
} finally {
  await browser.close();
  rl.close();
  process.stdin.destroy();
}
