// The main flows across the desktops in headless Chromium, as the users would walk them: a
// call-taker, a supervisor and the juvenile-liaison desk, each in their own browser context.
// Driven by crates/web/tests/it/browser.rs over stdin/stdout, one line at a time:
//   node -> test: "code <user>"  the test answers with that user's current one-time code
//   node -> test: "ready"        the call-taker is available: the test places the call
//   node -> test: "idle"         the test moves the server's clock 31 minutes and says "ok"
//   node -> test: "done" | "error <message>"
// The test first sends one JSON line: users, password, the subject and the records to choose.
import { chromium } from "playwright-core";
import * as readline from "node:readline";

const [base, shots] = process.argv.slice(2);
const rl = readline.createInterface({ input: process.stdin });
const lines = rl[Symbol.asyncIterator]();
const say = (s) => process.stdout.write(s + "\n");
const hear = async () => (await lines.next()).value;
const cfg = JSON.parse(await hear());

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const errors = [];
const pages = {};
const shot = (who, name) => pages[who].screenshot({ path: shots + "/" + name + ".png", fullPage: true });

async function logon(who, username, path) {
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 768 } })).newPage();
  pages[who] = page;
  page.on("pageerror", (e) => errors.push(who + ": " + String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(who + " console: " + m.text()); });
  page.on("dialog", (d) => { errors.push(who + ": a dialog opened: " + d.message()); d.dismiss(); });
  await page.goto(base + "/");
  await page.waitForURL("**/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(cfg.password);
  say("code " + username);
  await page.getByLabel("One-time code (authenticator)").fill(await hear());
  await page.getByRole("button", { name: "Log on" }).click();
  // Each role lands on its own desktop.
  await page.waitForURL("**" + path);
  return page;
}

async function noMarkup(who) {
  const page = pages[who];
  if (await page.evaluate(() => window.__xss === true)) throw new Error(who + ": a subject's name ran as script");
  if (await page.locator("main img").count() !== 0) throw new Error(who + ": a subject's name became markup");
}

async function search(desk, subject, chosen) {
  await desk.getByLabel("Family name(s)").fill(subject.family);
  await desk.getByLabel("Given name(s)").fill(subject.given);
  await desk.getByLabel("Date of birth").fill(subject.dob);
  await desk.getByLabel("A-number").fill(subject.a_number);
  await desk.getByLabel("Reason", { exact: true }).fill("booking: identity check");
  await desk.getByLabel("Case or incident number").fill("24-000123");
  // Enter in the form searches.
  await desk.getByLabel("A-number").press("Enter");
  await desk.getByTestId("candidate").first().waitFor({ timeout: 5000 });
  for (const id of chosen) {
    const box = desk.locator('#candidates input[value="' + id + '"]');
    if (await box.count() !== 1) throw new Error("record " + id + " is not among the candidates");
    const rank = await box.getAttribute("data-rank");
    // Alt+<rank> chooses a candidate from the keyboard (the first nine).
    if (Number(rank) <= 9) await desk.keyboard.press("Alt+" + rank);
    else await box.check();
    if (!(await box.isChecked())) throw new Error("record " + id + " did not get chosen");
  }
}

try {
  const wall = await logon("sup", cfg.supervisor, "/wall");
  await wall.getByTestId("tile-service-level").waitFor();
  const slBefore = (await wall.getByTestId("tile-service-level").textContent()).trim();
  await shot("sup", "01-wall-before");

  const desk = await logon("desk", cfg.call_taker, "/desk");
  await desk.getByRole("button", { name: "Log in" }).click();
  await desk.getByRole("button", { name: "Available" }).click();
  await desk.getByTestId("agent-state").filter({ hasText: "Available" }).waitFor({ timeout: 3000 });
  say("ready");

  await desk.getByTestId("offer").waitFor({ timeout: 5000 });
  await desk.getByRole("button", { name: "Answer" }).click();
  await desk.getByTestId("agent-state").filter({ hasText: "On a call" }).waitFor({ timeout: 3000 });
  await desk.getByTestId("inquiry-call").filter({ hasText: "Inquiry on the call from" }).waitFor({ timeout: 3000 });
  // The officer sent the subject ahead: the call pops with it and its cross-check, and one
  // click fills the form and searches.
  const ahead = desk.locator('[data-testid="offer"] [data-testid="sent-ahead"][data-reference="' + cfg.reference + '"]');
  await ahead.waitFor({ timeout: 3000 });
  await shot("desk", "02-desk-connected");
  await ahead.getByRole("button", { name: "Use this subject" }).click();
  await desk.getByTestId("candidate").first().waitFor({ timeout: 5000 });
  if (await desk.getByLabel("Family name(s)").inputValue() !== cfg.subject.family) throw new Error("the form was not filled from the inquiry sent ahead");

  // The supervisor sees the answered call move the service level.
  await wall.getByTestId("tile-service-level").filter({ hasText: "100%" }).waitFor({ timeout: 8000 });
  if (slBefore === "100%") throw new Error("the service level was 100% before any call");
  await shot("sup", "03-wall-after-answer");

  // Search the subject: ranked, explained candidates with their provenance.
  await search(desk, cfg.subject, cfg.chosen);
  const top = desk.getByTestId("candidate").first();
  if (!/\d+\.\d%/.test(await top.getByTestId("probability").textContent())) throw new Error("no probability shown");
  if (!/record .* updated \d{4}-\d\d-\d\d \(\d+ days old\)/.test(await top.getByTestId("provenance").textContent())) throw new Error("no provenance shown");
  await top.getByText("Why this score").click();
  await top.locator("table.evidence tbody tr").first().waitFor();
  await shot("desk", "04-candidates");

  // The case record left unticked: the rules judge it all the same, and the desk shows it in
  // the file as added by the server (it shares the A-number).
  await desk.locator('#candidates input[value="' + cfg.chosen[1] + '"]').uncheck();
  // The rules on the clean inquiry, and a confirmation that needs a second person.
  await desk.keyboard.press("Alt+K");
  await desk.locator("#verdict input[name=kind]").first().waitFor({ timeout: 5000 });
  const added = desk.locator('[data-testid="file-record"][data-record="' + cfg.chosen[1] + '"][data-added="true"]');
  await added.waitFor({ timeout: 5000 });
  if (!/added by the server/.test(await added.textContent())) throw new Error("the case record is not shown as added by the server");
  if (await desk.locator('#verdict input[name=kind]:checked').count() !== 0) throw new Error("a disposition was pre-selected");
  await shot("desk", "04b-file-judged");
  await desk.getByLabel("Confirm enforcement action", { exact: true }).check();
  await desk.getByRole("button", { name: "Record disposition" }).click();
  await desk.getByTestId("recorded").filter({ hasText: "waits for a second person" }).waitFor({ timeout: 5000 });
  await shot("desk", "05-confirmation-pending");

  // The supervisor approves it from the review queue.
  const review = wall.getByTestId("review").first();
  await review.waitFor({ timeout: 8000 });
  await shot("sup", "06-review-queue");
  await review.getByRole("button", { name: "Approve" }).click();
  await wall.getByTestId("no-reviews").waitFor({ timeout: 8000 });

  // A minor, in the caller's custody: the juvenile workflow, never an enforcement option. The
  // given names carry markup, which must show as text wherever the subject appears.
  const minor = { ...cfg.subject, given: cfg.subject.given + " " + cfg.markup };
  await desk.getByLabel("Says the subject is a minor").check();
  await desk.getByLabel("In the caller's custody").check();
  for (const id of cfg.chosen) await desk.locator('#candidates input[value="' + id + '"]').uncheck();
  await search(desk, minor, cfg.chosen);
  await desk.getByRole("button", { name: "Check rules" }).click();
  const banner = desk.locator('[data-testid="rule-banner"][data-rule="minor"]');
  await banner.waitFor({ timeout: 5000 });
  if (await desk.locator('#verdict input[value="confirm_enforcement_action"]').count() !== 0) {
    throw new Error("enforcement is offered for a minor");
  }
  await desk.getByTestId("no-enforcement").waitFor();
  await desk.getByLabel("Refer to the juvenile-liaison desk").check();
  await shot("desk", "07-minor-banner");
  await desk.getByRole("button", { name: "Record disposition" }).click();
  await desk.getByTestId("liaison-opened").waitFor({ timeout: 5000 });
  await shot("desk", "08-liaison-referral");

  // The liaison desk has the case, its custody timers running, and records HHS notified.
  const liaison = await logon("liaison", cfg.liaison, "/liaison");
  const kase = liaison.getByTestId("liaison-case").first();
  await kase.waitFor({ timeout: 5000 });
  const heading = await kase.locator("h2").textContent();
  if (!heading.includes(cfg.markup)) throw new Error("the case shows the subject as " + JSON.stringify(heading));
  await kase.getByTestId("timer").first().waitFor();
  await kase.getByRole("button", { name: "Record now" }).first().click();
  await kase.getByText("HHS notified: 20").waitFor({ timeout: 8000 });
  await kase.getByRole("button", { name: "legal representation: In progress" }).click();
  await kase.getByText("legal representation: in progress").waitFor({ timeout: 8000 });
  await shot("liaison", "09-liaison-desk");

  // The call ends; after-call work counts down on the desk.
  await desk.getByRole("button", { name: "End call" }).click();
  await desk.getByTestId("after-call").waitFor({ timeout: 5000 });
  await shot("desk", "10-after-call");

  // Thirty idle minutes later (the test moves the server's clock) the desk locks: the page
  // says so and unlocks in place with the password and a fresh code.
  say("idle");
  if (await hear() !== "ok") throw new Error("the test did not move the clock");
  const dialog = desk.locator("dialog#unlock");
  await dialog.waitFor({ state: "visible", timeout: 10000 });
  await shot("desk", "11-locked");
  await dialog.getByLabel("Password").fill(cfg.password);
  say("code " + cfg.call_taker);
  await dialog.getByLabel("One-time code").fill(await hear());
  const reloaded = desk.waitForEvent("load", { timeout: 10000 });
  await dialog.getByRole("button", { name: "Unlock" }).click();
  await reloaded;
  await desk.getByTestId("agent-state").waitFor({ timeout: 5000 });
  if (await desk.locator("dialog#unlock").isVisible()) throw new Error("still locked after the unlock");
  await shot("desk", "12-unlocked");

  for (const who of ["desk", "sup", "liaison"]) await noMarkup(who);
  if (errors.length) throw new Error("page errors: " + errors.join("; "));
  say("done");
} catch (e) {
  for (const [who, page] of Object.entries(pages)) {
    await page.screenshot({ path: shots + "/failed-" + who + ".png", fullPage: true }).catch(() => {});
  }
  say("error " + String(e && e.message || e).split("\n")[0] + (errors.length ? " (page errors: " + errors.join("; ") + ")" : ""));
  process.exitCode = 1;
} finally {
  await browser.close();
  rl.close();
  process.stdin.destroy();
}
