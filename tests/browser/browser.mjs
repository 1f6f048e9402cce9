// SPDX-License-Identifier: MPL-2.0
// Drives Debian's chromium (headless) with playwright-core through one
// scenario against a running kontaktd and prints one JSON object with what
// the page did; exits 0 when the scenario's expectations hold, 1 when not
// (or when the browser could not be driven), 2 on a usage error.
//
//   node browser.mjs SCENARIO URL
//
// Scenarios:
//   smoke      the page sets #status[data-state] to "ready"; no console
//              error, no page error, no CSP violation, no request to a host
//              other than 127.0.0.1
//   not_ready  the same, but data-state "not_ready" (PostgreSQL down); the
//              browser's console error for the 503 of /readyz is expected
//   csp_inline the page has an inline <script> that would set
//              <html data-marker>: it must not run, and a CSP violation
//              must be reported
//
// The agent scenarios (agent.mjs) log in and work the front end: login,
// screen_pop, resolve, forward, reply, xss, reconnect, keyboard, views.
// They take their data from BROWSER_PARAMS (JSON: login, password,
// case_id, cti_token, department_id, sync_dir, shots_dir, ...) and report
// what they saw in result.agent; the same checks as smoke apply (no
// console error but the expected ones, no page error, no CSP violation,
// no request to another host, no dialog opened by the page).
//
// Environment: BROWSER_SCREENSHOT=PATH saves a full-page screenshot there;
// CHROMIUM=PATH another chromium binary (default /usr/bin/chromium).
// Every wait is bounded (WAIT_MS), and the whole run by DEADLINE_MS.

import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { AGENT_SCENARIOS, runAgent, expectedAgentConsoleError } from './agent.mjs';

const WAIT_MS = 10_000;
const DEADLINE_MS = 60_000;
const EXECUTABLE = process.env.CHROMIUM || '/usr/bin/chromium';
const ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--disable-dev-shm-usage',
	'--no-proxy-server',
	// Nothing but the server under test resolves, so no test can reach
	// the network even if a page asks for it (the request is still seen
	// and reported below).
	'--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1',
];
const SCENARIOS = ['smoke', 'not_ready', 'csp_inline', ...Object.keys(AGENT_SCENARIOS)];

const started = Date.now();
const result = {
	scenario: process.argv[2] ?? null,
	url: process.argv[3] ?? null,
	ok: false,
	problems: [],
	playwright: createRequire(import.meta.url)('playwright-core/package.json').version,
	browser: null,
	status: null, // of the main document
	headers: {}, // of the main document, names in lower case
	state: null, // #status[data-state]
	text: null, // #status's text
	marker: null, // <html data-marker>
	html_data: {}, // every data-* attribute of <html>
	console: [], // every console message: {type, text, url}
	console_errors: [], // type error, less the expected ones below
	console_expected: [], // errors the scenario expects, with the reason
	page_errors: [],
	csp_violations: [], // securitypolicyviolation events
	csp_console: [], // console messages about the Content Security Policy
	requests: [],
	foreign_requests: [], // to a host other than 127.0.0.1
	failed_requests: [],
	screenshot: null,
	dialogs: [], // alert/confirm/prompt the page opened
	agent: {}, // what an agent scenario saw
	elapsed_ms: null,
};

function finish(code) {
	result.elapsed_ms = Date.now() - started;
	result.ok = code === 0;
	process.stdout.write(JSON.stringify(result, null, 1) + '\n', () => process.exit(code));
}

function isForeign(url) {
	let u;
	try {
		u = new URL(url);
	} catch {
		return true;
	}
	if (['data:', 'blob:', 'about:'].includes(u.protocol)) return false;
	return u.hostname !== '127.0.0.1';
}

// Records every securitypolicyviolation of every document, before the
// page's own scripts run (init scripts are not subject to the CSP).
function cspListener() {
	window.__ktdCsp = [];
	document.addEventListener('securitypolicyviolation', (e) => {
		window.__ktdCsp.push({
			directive: e.effectiveDirective || e.violatedDirective,
			blocked: e.blockedURI,
			source: e.sourceFile,
			line: e.lineNumber,
			sample: e.sample,
			disposition: e.disposition,
		});
	});
}

async function run(scenario, url) {
	const browser = await chromium.launch({
		executablePath: EXECUTABLE,
		headless: true,
		args: ARGS,
		timeout: WAIT_MS * 3,
		env: { ...process.env, TZ: 'UTC', LANG: 'C.UTF-8' },
	});
	try {
		result.browser = browser.version();
		const context = await browser.newContext({ serviceWorkers: 'block' });
		context.setDefaultTimeout(WAIT_MS);
		context.setDefaultNavigationTimeout(WAIT_MS);
		await context.addInitScript(cspListener);
		context.on('request', (req) => {
			result.requests.push(req.url());
			if (isForeign(req.url())) result.foreign_requests.push(req.url());
		});
		context.on('requestfailed', (req) => {
			result.failed_requests.push({ url: req.url(), error: req.failure()?.errorText ?? null });
		});
		const page = await context.newPage();
		page.on('console', (msg) => {
			const m = { type: msg.type(), text: msg.text(), url: msg.location()?.url ?? null };
			result.console.push(m);
			if (m.type === 'error') result.console_errors.push(m);
			if (/Content Security Policy/i.test(m.text)) result.csp_console.push(m);
		});
		page.on('pageerror', (err) => {
			result.page_errors.push(String(err?.stack || err));
			if (/Content Security Policy/i.test(String(err))) result.csp_console.push({ type: 'pageerror', text: String(err) });
		});

		page.on('dialog', (d) => {
			result.dialogs.push({ type: d.type(), message: d.message() });
			d.dismiss().catch(() => {});
		});

		const resp = await page.goto(url, { waitUntil: 'load' });
		if (resp) {
			result.status = resp.status();
			result.headers = await resp.allHeaders();
		}

		if (AGENT_SCENARIOS[scenario]) {
			await runAgent(scenario, page, url, result);
		} else if (scenario === 'csp_inline') {
			// The blocked script's violation event is queued as a task:
			// wait for it (bounded), then read the marker.
			try {
				await page.waitForFunction(() => (window.__ktdCsp || []).length > 0, null, { timeout: WAIT_MS });
			} catch (e) {
				result.problems.push(`no securitypolicyviolation within ${WAIT_MS} ms`);
			}
		} else {
			const el = await page.$('#status');
			if (!el) {
				result.problems.push('the page has no #status element');
			} else {
				try {
					await page.waitForSelector('#status[data-state]', { state: 'attached', timeout: WAIT_MS });
				} catch (e) {
					result.problems.push(`#status got no data-state within ${WAIT_MS} ms`);
				}
				result.state = await el.getAttribute('data-state');
				result.text = (await el.textContent())?.trim() ?? null;
			}
		}
		// Let late requests and their console messages arrive.
		// (The agent's page keeps its event stream open: never idle.)
		if (AGENT_SCENARIOS[scenario]) {
			await page.waitForTimeout(300);
		} else {
			await page.waitForLoadState('networkidle', { timeout: WAIT_MS }).catch(() => {
				result.problems.push(`the page did not become network-idle within ${WAIT_MS} ms`);
			});
		}
		result.html_data = await page.evaluate(() => ({ ...document.documentElement.dataset }));
		result.marker = result.html_data.marker ?? null;
		result.csp_violations = await page.evaluate(() => window.__ktdCsp || []);

		if (process.env.BROWSER_SCREENSHOT) {
			await page.screenshot({ path: process.env.BROWSER_SCREENSHOT, fullPage: true, timeout: WAIT_MS });
			result.screenshot = process.env.BROWSER_SCREENSHOT;
		}
		await context.close();
	} finally {
		await browser.close();
	}
	check(scenario);
}

// Console errors that are not the page's fault: the browser's own request
// for /favicon.ico when the page names no icon, and (not_ready) the 503 of
// /readyz, which the browser logs by itself.
function expectedConsoleError(scenario, m) {
	const path = (() => {
		try {
			return new URL(m.url).pathname;
		} catch {
			return null;
		}
	})();
	const browserFavicon = path === '/favicon.ico' && !result.requests.includes(m.url);
	if (browserFavicon && /status of 404\b/.test(m.text)) return 'the browser asks for /favicon.ico by itself';
	if (scenario === 'not_ready' && path === '/readyz' && /status of 503\b/.test(m.text)) return '/readyz answers 503';
	return expectedAgentConsoleError(scenario, m, path);
}

// The scenario's expectations; each miss is a problem.
function check(scenario) {
	const p = result.problems;
	const all = result.console_errors;
	result.console_errors = [];
	for (const m of all) {
		const why = expectedConsoleError(scenario, m);
		if (why) result.console_expected.push({ ...m, why });
		else result.console_errors.push(m);
	}
	if (result.status !== 200) p.push(`main document: status ${result.status}, not 200`);
	if (result.foreign_requests.length) p.push(`requests to other hosts: ${result.foreign_requests.join(' ')}`);
	if (result.page_errors.length) p.push(`${result.page_errors.length} page error(s)`);
	if (result.dialogs.length) p.push(`the page opened dialog(s): ${JSON.stringify(result.dialogs)}`);
	if (scenario === 'csp_inline') {
		if (result.marker !== null) p.push(`the inline script ran (data-marker=${result.marker})`);
		if (!result.csp_violations.length) p.push('no securitypolicyviolation event');
		return;
	}
	const want = scenario === 'not_ready' ? 'not_ready' : 'ready';
	if (AGENT_SCENARIOS[scenario]) {
		// the agent scenario reads #status itself
	} else if (result.state !== want) p.push(`data-state is ${JSON.stringify(result.state)}, not "${want}"`);
	if (result.csp_violations.length || result.csp_console.length) p.push('Content Security Policy violation(s)');
	if (result.console_errors.length) p.push(`console error(s): ${result.console_errors.map((m) => m.text).join(' | ')}`);
}

const [scenario, url] = process.argv.slice(2);
if (!SCENARIOS.includes(scenario) || !url || process.argv.length !== 4) {
	process.stderr.write(`usage: node browser.mjs {${SCENARIOS.join('|')}} URL\n`);
	process.exit(2);
}
const watchdog = setTimeout(() => {
	result.problems.push(`the run did not finish within ${DEADLINE_MS} ms`);
	finish(1); // playwright kills the browser it launched on exit
}, DEADLINE_MS);
try {
	await run(scenario, url);
	clearTimeout(watchdog);
	finish(result.problems.length ? 1 : 0);
} catch (e) {
	clearTimeout(watchdog);
	result.problems.push(`error: ${String(e?.message ?? e).replace(/\x1b\[[0-9;]*m/g, '')}`);
	finish(1);
}
