#!/usr/bin/env node
// Drive the page served by `rnnx web` in a real headless Chromium (puppeteer-core, no browser
// download): for each model variant, open the page, type each sentence into the box and read
// the tags (or the label) back from the page. tests/test_web_browser.py compares them with
// Python's pipeline.runtime.
//
//   node browser_test.mjs --url http://127.0.0.1:8000/ --sentences s.json --out r.json \
//        [--variants model.text.onnx,model.int8.text.onnx] [--keystrokes 20] [--screenshot shot.png]
//
// s.json: a JSON array of strings. The first --keystrokes sentences are typed key by key (every
// keystroke tags the text so far); the others are typed in one go (Input.insertText, one input
// event, as a paste or an IME commit). Without --variants the page's default model is used.
// r.json: {"browser": ..., "variants": {FILE: {"load": {...}, "results": [...], "runs": [...]}}}.
// The browser: $CHROMIUM, else /usr/bin/chromium (Debian: apt-get install -y chromium).

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import puppeteer from "puppeteer-core";

function args() {
  const out = { keystrokes: 20, variants: "", screenshot: "", screenshotText: "" };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-(\w)/g, (_, c) => c.toUpperCase());
    out[key] = argv[i + 1];
  }
  for (const need of ["url", "sentences", "out"]) {
    if (!out[need]) {
      process.stderr.write(`browser_test.mjs: --${need} is required\n`);
      process.exit(2);
    }
  }
  out.keystrokes = Number(out.keystrokes);
  return out;
}

const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-dev-shm-usage", "--window-size=900,640",
];

async function waitFor(page, text) {
  await page.waitForFunction(
    (t) => window.rnnx.error || (!window.rnnx.busy && window.rnnx.pending === null &&
      document.getElementById("out").dataset.text === t),
    { timeout: 30000, polling: "raf" }, text);
  const err = await page.evaluate(() => window.rnnx.error);
  if (err) throw new Error(`the page failed: ${err}`);
}

async function readPage(page) {
  return page.evaluate(() => {
    const toks = [...document.querySelectorAll("#tokens > .tok")];
    const verdict = document.querySelector("#label .verdict");
    return {
      tokens: toks.map((s) => s.querySelector(".w").textContent),
      tags: toks.map((s) => s.dataset.tag ?? null),
      probs: toks.map((s) => (s.dataset.prob === undefined ? null : Number(s.dataset.prob))),
      label: verdict ? verdict.dataset.label : null,
      label_probs: [...document.querySelectorAll("#label .row")].map((r) => Number(r.dataset.prob)),
      hover: toks.length ? (toks[0].dataset.tip ?? null) : null,
    };
  });
}

async function typeInto(page, text, keystrokes) {
  await page.evaluate(() => {
    const box = document.getElementById("text");
    box.value = "";
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await waitFor(page, "");
  await page.focus("#text");
  if (keystrokes) await page.keyboard.type(text);
  else await page.keyboard.sendCharacter(text);
  await waitFor(page, text);
}

async function main() {
  const opt = args();
  const sentences = JSON.parse(fs.readFileSync(opt.sentences, "utf8"));
  const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
  if (!fs.existsSync(executablePath)) {
    process.stderr.write(`browser_test.mjs: no browser at ${executablePath}; install it with: apt-get install -y chromium\n`);
    process.exit(3);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "rnnx-chromium-"));
  const browser = await puppeteer.launch({ executablePath, headless: true, args: FLAGS, userDataDir,
                                           protocolTimeout: 120000 });
  const report = { browser: await browser.version(), variants: {} };
  try {
    const variants = opt.variants ? opt.variants.split(",") : [""];
    for (const file of variants) {
      const page = await browser.newPage();
      const problems = [];
      page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
      page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
      page.on("requestfailed", (req) => problems.push(`request failed: ${req.url()}`));
      const url = file ? `${opt.url}?model=${encodeURIComponent(file)}` : opt.url;
      const t0 = Date.now();
      await page.goto(url, { waitUntil: "load" });
      await page.waitForFunction(() => window.rnnx && (window.rnnx.ready || window.rnnx.error), { timeout: 60000 });
      const wall = Date.now() - t0;
      const err = await page.evaluate(() => window.rnnx.error);
      if (err) throw new Error(`${url}: ${err}\n${problems.join("\n")}`);
      const load = await page.evaluate(() => ({ ...window.rnnx.load, file: window.rnnx.file }));
      load.wall_ms = wall;
      const results = [];
      const sentenceMs = [];
      for (let i = 0; i < sentences.length; i++) {
        const before = await page.evaluate(() => window.rnnx.runs.length);
        await typeInto(page, sentences[i], i < opt.keystrokes);
        const res = await readPage(page);
        const runs = await page.evaluate((b) => window.rnnx.runs.slice(b), before);
        res.keystroke = i < opt.keystrokes;
        res.runs = runs.length;
        res.steps = runs.reduce((a, r) => a + r.steps, 0); // tokens the model ran (streaming: the changed ones)
        res.run_tokens = runs.reduce((a, r) => a + r.tokens, 0);
        res.model_ms = runs.length ? runs[runs.length - 1].model_ms : null;
        res.total_ms = runs.length ? runs[runs.length - 1].total_ms : null;
        sentenceMs.push(res.model_ms);
        results.push(res);
      }
      if (opt.screenshot && file === variants[0]) {
        await typeInto(page, opt.screenshotText || sentences[0], true);
        const toks = await page.$$("#tokens > .tok");
        if (toks.length) await toks[Math.min(2, toks.length - 1)].hover(); // shows that token's tag probability
        await page.screenshot({ path: opt.screenshot, fullPage: true });
      }
      const runs = await page.evaluate(() => window.rnnx.runs);
      report.variants[load.file] = { load, results, runs, problems, screen: await page.evaluate(() => ({
        model: document.getElementById("model").textContent, latency: document.getElementById("latency").textContent,
        load: document.getElementById("load").textContent })) };
      await page.close();
    }
  } finally {
    await browser.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  fs.writeFileSync(opt.out, JSON.stringify(report));
}

main().catch((err) => {
  process.stderr.write(`browser_test.mjs: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
