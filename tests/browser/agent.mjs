// SPDX-License-Identifier: MPL-2.0
// The agent scenarios of browser.mjs: each logs in and works the front
// end as an agent would, recording what it saw in result.agent and every
// miss in result.problems. Every wait is bounded (WAIT_MS).
//
// BROWSER_PARAMS (JSON): login, password, case_id, case_reference,
// cti_token, department_id, phone, subject, sync_dir (for the restart
// handshake with the test: we write NAME.req and wait for NAME.done),
// shots_dir (screenshots of the main views).

import fs from 'node:fs';
import path from 'node:path';

const WAIT_MS = 10_000;
const P = JSON.parse(process.env.BROWSER_PARAMS || '{}');

async function shot(page, name) {
	if (!P.shots_dir) return;
	const file = path.join(P.shots_dir, `${name}.png`);
	await page.screenshot({ path: file, timeout: WAIT_MS });
}

async function readStatus(page, result) {
	const el = await page.$('#status');
	if (!el) return;
	await page.waitForSelector('#status[data-state]', { state: 'attached', timeout: WAIT_MS }).catch(() => {});
	result.state = await el.getAttribute('data-state');
	result.text = (await el.textContent())?.trim() ?? null;
}

async function login(page, a, { wrongFirst = false } = {}) {
	await page.waitForSelector('#login-form', { timeout: WAIT_MS });
	if (wrongFirst) {
		await page.fill('#login-form input[name="login"]', P.login);
		await page.fill('#login-form input[name="password"]', 'not the password');
		await page.click('#login-form button[type="submit"]');
		await page.waitForFunction(() => document.querySelector('#login-message')?.textContent, null, { timeout: WAIT_MS });
		a.wrong_login_message = await page.textContent('#login-message');
	}
	await page.fill('#login-form input[name="login"]', P.login);
	await page.fill('#login-form input[name="password"]', P.password);
	await page.click('#login-form button[type="submit"]');
	await page.waitForSelector('html[data-session="yes"]', { timeout: WAIT_MS });
	await page.waitForSelector('html[data-live="ready"]', { timeout: WAIT_MS });
	a.who = (await page.textContent('#who'))?.trim();
}

async function inboxLoaded(page) {
	await page.waitForSelector('section.inbox[data-loaded="true"]', { timeout: WAIT_MS });
}

async function openCase(page, id) {
	await page.evaluate((i) => { location.hash = `#/case/${i}`; }, id);
	await page.waitForSelector(`section.case[data-case-id="${id}"]`, { timeout: WAIT_MS });
}

async function caseStatus(page) {
	return page.getAttribute('section.case', 'data-status');
}

async function waitStatus(page, status) {
	await page.waitForSelector(`section.case[data-status="${status}"]`, { timeout: WAIT_MS });
}

async function postCti(url, events) {
	const base = new URL(url).origin;
	const r = await fetch(base + '/api/v1/cti/events', {
		method: 'POST',
		headers: { Authorization: `Bearer ${P.cti_token}`, 'Content-Type': 'application/json' },
		body: JSON.stringify(events),
		signal: AbortSignal.timeout(WAIT_MS),
	});
	return { status: r.status, body: await r.text() };
}

// The test's side of a step (restart the daemon): NAME.req, then NAME.done.
async function handshake(name) {
	fs.writeFileSync(path.join(P.sync_dir, `${name}.req`), String(Date.now()));
	const done = path.join(P.sync_dir, `${name}.done`);
	const until = Date.now() + 40_000;
	while (!fs.existsSync(done)) {
		if (Date.now() > until) throw new Error(`the test did not answer ${name} within 40 s`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

export const AGENT_SCENARIOS = {
	async login(page, url, a) {
		await login(page, a, { wrongFirst: true });
		await inboxLoaded(page);
		a.rows = await page.$$eval('section.inbox tbody tr', (trs) => trs.map((tr) => tr.dataset.caseId));
		a.nav = await page.$$eval('#nav a', (as) => as.map((x) => x.textContent));
		await shot(page, 'inbox');
		// English and back
		await page.click('#lang');
		await page.waitForFunction(() => document.documentElement.lang === 'en', null, { timeout: WAIT_MS });
		a.nav_en = await page.$$eval('#nav a', (as) => as.map((x) => x.textContent));
		await inboxLoaded(page);
		await page.click('#lang');
		await page.waitForFunction(() => document.documentElement.lang === 'da', null, { timeout: WAIT_MS });
		// directory and callbacks
		await page.click('#nav a[data-nav="directory"]');
		await page.waitForSelector('section.directory[data-loaded="true"]', { timeout: WAIT_MS });
		a.departments = await page.$$eval('section.directory tbody tr th', (ths) => ths.map((x) => x.textContent));
		await shot(page, 'directory');
		await page.fill('#dir-search', 'ingen sådan afdeling');
		await page.waitForSelector('section.directory p.empty:not([hidden])', { timeout: WAIT_MS });
		a.departments_none = await page.$$eval('section.directory tbody tr', (trs) => trs.length);
		await page.fill('#dir-search', 'bygg');
		await page.waitForSelector('section.directory tbody tr', { timeout: WAIT_MS });
		a.departments_bygg = await page.$$eval('section.directory tbody tr th', (ths) => ths.map((x) => x.textContent));
		await page.click('#nav a[data-nav="callbacks"]');
		await page.waitForSelector('section.callbacks[data-loaded="true"]', { timeout: WAIT_MS });
		await shot(page, 'callbacks');
		// help
		await page.keyboard.press('?');
		await page.waitForSelector('dialog[open] [data-dialog="help"]', { timeout: WAIT_MS });
		await shot(page, 'help');
		await page.keyboard.press('Escape');
		// 200 % zoom of a 1280 px window: nothing wider than the window
		await page.click('#nav a[data-nav="inbox"]');
		await inboxLoaded(page);
		const size = page.viewportSize();
		await page.setViewportSize({ width: 640, height: 360 });
		a.zoom_overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
		await shot(page, 'inbox-zoom200');
		await page.setViewportSize(size);
		// a reload keeps the session
		await page.reload({ waitUntil: 'load' });
		await page.waitForSelector('html[data-session="yes"]', { timeout: WAIT_MS });
		a.after_reload_who = (await page.textContent('#who'))?.trim();
		await page.click('#logout');
		await page.waitForSelector('#login-form', { timeout: WAIT_MS });
		a.logout_message = await page.textContent('#login-message');
		a.live_after_logout = await page.evaluate(() => document.documentElement.dataset.live ?? null);
	},

	async expiry(page, url, a) {
		await login(page, a);
		await inboxLoaded(page);
		await handshake('expire');
		// Any request now answers 401: the filter triggers one, unless a
		// background request (the tab counts, the live stream ending with
		// the session) got there first and the login form has replaced it.
		const status = await page.$('section.inbox select[name="status"]');
		if (status) await status.selectOption('new', { timeout: 2000 }).catch(() => {});
		await page.waitForSelector('#login-form', { timeout: WAIT_MS });
		a.message = await page.textContent('#login-message');
	},

	async screen_pop(page, url, a) {
		await login(page, a);
		await inboxLoaded(page);
		const t0 = Date.now();
		const r = await postCti(url, { call_id: P.call_id, event: 'offered', at: new Date().toISOString(), from: P.phone, to: '36373839', queue: 'borgerservice' });
		a.cti_status = r.status;
		await page.waitForSelector('#screenpop:not([hidden]) [data-action="open-call-case"]:not([disabled])', { timeout: WAIT_MS });
		a.pop_ms = Date.now() - t0;
		a.pop_number = await page.getAttribute('#screenpop [data-number]', 'data-number');
		a.pop_open_cases = await page.$$eval('#screenpop section:first-of-type li a', (as) => as.map((x) => x.textContent));
		await shot(page, 'screenpop');
		await page.click('#screenpop [data-action="open-call-case"]');
		await page.waitForSelector('section.case[data-case-id]', { timeout: WAIT_MS });
		a.case_id = Number(await page.getAttribute('section.case', 'data-case-id'));
		a.case_reference = await page.textContent('#case-title .ref');
		a.pop_hidden = await page.$eval('#screenpop', (e) => e.hidden);
		await shot(page, 'case-call');
	},

	async resolve(page, url, a) {
		await login(page, a);
		await openCase(page, P.case_id);
		await page.click('.actions [data-action="resolve"]');
		await page.waitForSelector('dialog[open] form[data-dialog="resolve"]', { timeout: WAIT_MS });
		a.default_resolution = await page.$eval('dialog select[name="resolution"]', (s) => s.value);
		await page.click('dialog [data-action="submit"]');
		await waitStatus(page, 'resolved');
		a.status = await caseStatus(page);
		a.resolution = (await page.textContent('[data-fact="resolution"] dd'))?.trim();
		a.toast = await page.textContent('#toast');
		a.reopen_enabled = await page.$eval('.actions [data-action="reopen"]', (b) => !b.disabled);
		await shot(page, 'case-resolved');
	},

	async forward(page, url, a) {
		await login(page, a);
		await openCase(page, P.case_id);
		await page.click('.actions [data-action="forward"]');
		await page.waitForSelector('dialog[open] form[data-dialog="forward"]', { timeout: WAIT_MS });
		await page.selectOption('dialog select[name="department"]', String(P.department_id));
		await page.waitForSelector('dialog .methods input[name="method"]', { timeout: WAIT_MS });
		a.methods = await page.$$eval('dialog .methods input[name="method"]', (is) => is.map((i) => i.value));
		a.queue_target = await page.textContent('dialog [data-method-target="queue"]').catch(() => null);
		a.closed_warning = await page.$('dialog [data-closed="true"]') !== null;
		a.hours = await page.textContent('dialog .dep-info');
		await page.check('dialog input[name="method"][value="queue"]');
		await page.fill('dialog textarea[name="reason"]', 'Byggesag');
		await shot(page, 'forward-dialog');
		await page.click('dialog [data-action="submit"]');
		await waitStatus(page, 'forwarded');
		a.status = await caseStatus(page);
		a.forward = (await page.textContent('section.forwards li'))?.trim();
		a.department = (await page.textContent('[data-fact="department"] dd'))?.trim();
	},

	async reply(page, url, a) {
		await login(page, a);
		await openCase(page, P.case_id);
		await page.click('.actions [data-action="reply"]');
		await page.waitForSelector('dialog[open] form[data-dialog="reply"]', { timeout: WAIT_MS });
		await page.fill('dialog textarea[name="text"]', P.reply_text);
		await page.click('dialog [data-action="submit"]');
		await page.waitForSelector('article[data-channel="outbound_email"] [data-delivery]', { timeout: WAIT_MS });
		a.delivery = await page.getAttribute('article[data-channel="outbound_email"] [data-delivery]', 'data-delivery');
		a.delivery_text = await page.textContent('article[data-channel="outbound_email"] [data-delivery]');
		a.reply_shown = await page.textContent('article[data-channel="outbound_email"] .text');
		await shot(page, 'case-reply');
	},

	async xss(page, url, a) {
		await login(page, a);
		await inboxLoaded(page);
		await page.waitForSelector(`section.inbox tr[data-case-id="${P.case_id}"]`, { timeout: WAIT_MS });
		a.inbox_subject = await page.textContent(`section.inbox tr[data-case-id="${P.case_id}"] td.subject`);
		await openCase(page, P.case_id);
		a.case_subject = await page.textContent('#case-title .subject');
		a.contact_texts = await page.$$eval('article.contact .text', (els) => els.map((e) => e.textContent));
		a.contact_subjects = await page.$$eval('article.contact .subject', (els) => els.map((e) => e.textContent));
		a.citizen = (await page.textContent('[data-fact="citizen"] dd'))?.trim();
		// a live event carries the subject too
		await page.evaluate(() => { location.hash = '#/inbox'; });
		await inboxLoaded(page);
		a.img_count = await page.evaluate(() => document.querySelectorAll('img').length);
		a.script_count = await page.evaluate(() => document.querySelectorAll('body script').length);
		await page.waitForTimeout(500); // an onerror would fire by now
		await shot(page, 'xss');
	},

	async reconnect(page, url, a) {
		await login(page, a);
		await inboxLoaded(page);
		a.rows_before = await page.$$eval('section.inbox tbody tr', (trs) => trs.length);
		await handshake('stop');
		await page.waitForSelector('#banner:not([hidden])', { timeout: WAIT_MS });
		a.banner = (await page.textContent('#banner'))?.trim();
		await shot(page, 'offline');
		await handshake('start');
		const t0 = Date.now();
		await page.waitForSelector('html[data-live="ready"]', { timeout: 20_000 });
		await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: WAIT_MS });
		a.reconnect_ms = Date.now() - t0;
		const r = await postCti(url, { call_id: P.call_id, event: 'offered', at: new Date().toISOString(), from: P.phone, to: '36373839' });
		a.cti_status = r.status;
		await page.waitForFunction((n) => document.querySelectorAll('section.inbox tbody tr').length > n, a.rows_before, { timeout: WAIT_MS });
		a.rows_after = await page.$$eval('section.inbox tbody tr', (trs) => trs.length);
		a.session_kept = await page.evaluate(() => document.documentElement.dataset.session === 'yes');
	},

	async keyboard(page, url, a) {
		await page.waitForSelector('#login-form', { timeout: WAIT_MS });
		// the login field has the focus
		await page.keyboard.type(P.login);
		await page.keyboard.press('Tab');
		await page.keyboard.type(P.password);
		await page.keyboard.press('Enter');
		await page.waitForSelector('html[data-live="ready"]', { timeout: WAIT_MS });
		await inboxLoaded(page);
		await page.keyboard.press('j');
		a.focused = await page.evaluate(() => document.activeElement?.textContent);
		await page.keyboard.press('Enter');
		await page.waitForSelector(`section.case[data-case-id="${P.case_id}"]`, { timeout: WAIT_MS });
		await page.keyboard.press('t');
		await page.waitForFunction(() => document.querySelector('[data-fact="assignee"] dd')?.textContent === 'mig', null, { timeout: WAIT_MS });
		a.assignee = (await page.textContent('[data-fact="assignee"] dd'))?.trim();
		await page.keyboard.press('l');
		await page.waitForSelector('dialog[open] form[data-dialog="resolve"]', { timeout: WAIT_MS });
		a.dialog_focus = await page.evaluate(() => document.activeElement?.dataset.action ?? document.activeElement?.tagName);
		await page.keyboard.press('Enter');
		await waitStatus(page, 'resolved');
		a.status = await caseStatus(page);
		a.focus_visible = await page.evaluate(() => {
			const el = document.activeElement;
			return el ? getComputedStyle(el).outlineStyle : null;
		});
		await page.keyboard.press('1');
		await inboxLoaded(page);
		a.inbox_status = await page.getAttribute(`section.inbox tr[data-case-id="${P.case_id}"]`, 'data-status');
	},
};

// The other actions: a note, a 409 (the test changes the case under an
// open dialog), resolve, reopen, merge; then a callback attempt.
AGENT_SCENARIOS.actions = async function actions(page, url, a) {
	await login(page, a);
	await openCase(page, P.case_id);
	await page.keyboard.press('n');
	await page.waitForSelector('dialog[open] form[data-dialog="note"]', { timeout: WAIT_MS });
	await page.fill('dialog textarea[name="text"]', P.note);
	await page.click('dialog [data-action="submit"]');
	await page.waitForSelector('article[data-channel="note"]', { timeout: WAIT_MS });
	a.note = await page.textContent('article[data-channel="note"] .text');
	// someone else changes the case while the resolve dialog is open
	await page.click('.actions [data-action="resolve"]');
	await page.waitForSelector('dialog[open] form[data-dialog="resolve"]', { timeout: WAIT_MS });
	await handshake('change');
	await page.waitForTimeout(500); // the live event arrives, the dialog stays
	await page.click('dialog [data-action="submit"]');
	await page.waitForSelector('#toast[data-kind="error"]', { timeout: WAIT_MS });
	a.conflict_toast = await page.textContent('#toast');
	a.dialog_open_after_conflict = await page.$eval('dialog', (d) => d.open);
	await page.waitForSelector('[data-fact="category"]', { timeout: WAIT_MS });
	a.category = (await page.textContent('[data-fact="category"] dd'))?.trim();
	a.status_after_conflict = await caseStatus(page);
	// now it works
	await page.click('.actions [data-action="resolve"]');
	await page.click('dialog [data-action="submit"]');
	await waitStatus(page, 'resolved');
	await page.click('.actions [data-action="reopen"]');
	await page.waitForSelector('dialog[open] form[data-dialog="reopen"]', { timeout: WAIT_MS });
	await page.click('dialog [data-action="submit"]');
	await waitStatus(page, 'open');
	a.reopened = await caseStatus(page);
	await page.click('.actions [data-action="merge"]');
	await page.waitForSelector('dialog[open] form[data-dialog="merge"]', { timeout: WAIT_MS });
	await page.fill('dialog input[name="into"]', P.into_reference);
	await page.click('dialog [data-action="submit"]');
	await waitStatus(page, 'closed');
	a.merged = (await page.textContent('[data-fact="merged"] dd'))?.trim();
	await shot(page, 'case-merged');
	// callbacks
	await page.keyboard.press('2');
	await page.waitForSelector('section.callbacks[data-loaded="true"]', { timeout: WAIT_MS });
	a.callbacks = await page.$$eval('section.callbacks tbody tr', (trs) => trs.map((tr) => tr.dataset.callbackId));
	await shot(page, 'callbacks-due');
	await page.click(`tr[data-callback-id="${P.callback_id}"] button[data-result="reached"]`);
	await page.waitForSelector('dialog[open] form[data-dialog="attempt"]', { timeout: WAIT_MS });
	await page.fill('dialog textarea[name="note"]', 'Talte med borgeren');
	await page.click('dialog [data-action="submit"]');
	await page.waitForSelector(`tr[data-callback-id="${P.callback_id}"]`, { state: 'detached', timeout: WAIT_MS });
	a.callback_toast = await page.textContent('#toast');
};

// A supervisor sees the case's audit trail (the agent does not).
AGENT_SCENARIOS.audit = async function audit(page, url, a) {
	await login(page, a);
	await openCase(page, P.case_id);
	await page.waitForSelector('section.audit tbody tr', { timeout: WAIT_MS });
	a.audit_actions = await page.$$eval('section.audit tbody tr', (trs) => trs.map((tr) => tr.dataset.action));
	await shot(page, 'case-audit');
};

// Paging, search, "mine" and the channel tabs of the inbox.
AGENT_SCENARIOS.paging = async function paging(page, url, a) {
	const rows = () => page.$$eval('section.inbox tbody tr', (trs) => trs.map((tr) => tr.dataset.caseId));
	await login(page, a);
	await inboxLoaded(page);
	a.first_page = (await rows()).length;
	a.more_visible = await page.isVisible('section.inbox button.more');
	await page.click('section.inbox button.more');
	await page.waitForFunction((n) => document.querySelectorAll('section.inbox tbody tr').length > n, a.first_page, { timeout: WAIT_MS });
	a.after_more = (await rows()).length;
	a.more_after = await page.isVisible('section.inbox button.more');
	await page.waitForFunction(() => document.querySelector('[data-count=""]')?.textContent, null, { timeout: WAIT_MS });
	a.count_all = await page.textContent('[data-count=""]');
	a.count_email = await page.textContent('[data-count="email"]');
	await page.fill('#inbox-search', 'carport');
	await page.keyboard.press('Enter');
	await page.waitForFunction(() => document.querySelectorAll('section.inbox tbody tr').length === 1, null, { timeout: WAIT_MS });
	a.search = await rows();
	await page.fill('#inbox-search', '');
	await page.keyboard.press('Enter');
	await page.check('section.inbox input[name="mine"]');
	await page.waitForFunction(() => document.querySelectorAll('section.inbox tbody tr').length === 1, null, { timeout: WAIT_MS });
	a.mine = await rows();
	await page.uncheck('section.inbox input[name="mine"]');
	await page.click('section.inbox .tab[data-channel="email"]');
	await page.waitForSelector('section.inbox p.empty:not([hidden])', { timeout: WAIT_MS });
	a.email_rows = (await rows()).length;
};

// What the inbox takes from the API since issue 6's gaps closed: true
// counts per tab and of "Kun mine", the channel of each row, the
// assignee's name, oldest first across pages; in a case, the assignee
// picker.
AGENT_SCENARIOS.inbox_api = async function inboxApi(page, url, a) {
	const rows = () => page.$$eval('section.inbox tbody tr', (trs) => trs.map((tr) => tr.dataset.caseId));
	await login(page, a);
	await inboxLoaded(page);
	await page.waitForFunction(() => document.querySelector('[data-count="mine"]')?.textContent, null, { timeout: WAIT_MS });
	a.counts = await page.$$eval('section.inbox [data-count]', (els) => Object.fromEntries(els.map((e) => [e.dataset.count, e.textContent])));
	a.channels = await page.$$eval('section.inbox tbody tr', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.caseId, tr.querySelector('td.channel .ch-mark')?.dataset.channel ?? null])));
	a.channel_text = (await page.textContent(`section.inbox tr[data-case-id="${P.web_id}"] td.channel`))?.trim();
	a.colleague = (await page.textContent(`section.inbox tr[data-case-id="${P.colleague_case_id}"] td.assignee`))?.trim();
	a.newest_first = (await rows()).slice(0, 2);
	await page.selectOption('section.inbox select[name="sort"]', 'oldest');
	await page.waitForFunction((id) => document.querySelector('section.inbox tbody tr')?.dataset.caseId === id, String(P.oldest_id), { timeout: WAIT_MS });
	a.oldest_first = (await rows()).slice(0, 2);
	a.oldest_page = (await rows()).length;
	await page.click('section.inbox button.more');
	await page.waitForFunction((n) => document.querySelectorAll('section.inbox tbody tr').length > n, a.oldest_page, { timeout: WAIT_MS });
	const all = await rows();
	a.oldest_all = all.length;
	a.oldest_last = all[all.length - 1];
	await shot(page, 'inbox-oldest');
	await openCase(page, P.case_id);
	a.case_channel = (await page.textContent('[data-fact="channel"] dd'))?.trim();
	await page.keyboard.press('a');
	await page.waitForSelector('dialog[open] form[data-dialog="assign"]', { timeout: WAIT_MS });
	a.assign_options = await page.$$eval('dialog select[name="assignee"] option', (os) => os.map((o) => o.textContent));
	await page.selectOption('dialog select[name="assignee"]', String(P.colleague_id));
	await page.click('dialog [data-action="submit"]');
	await page.waitForFunction((n) => document.querySelector('[data-fact="assignee"] dd')?.textContent === n, P.colleague_name, { timeout: WAIT_MS });
	a.assigned = (await page.textContent('[data-fact="assignee"] dd'))?.trim();
	a.assign_toast = await page.textContent('#toast');
};

// Live updates keep the agent's place: scrolled down, with the focus on a
// row, a new case arrives at the top and the focused case changes; the
// row under the eye stays where it was and keeps the focus.
AGENT_SCENARIOS.keep_place = async function keepPlace(page, url, a) {
	await login(page, a);
	await inboxLoaded(page);
	const sel = `section.inbox tr[data-case-id="${P.focus_id}"]`;
	await page.waitForSelector(sel, { timeout: WAIT_MS });
	await page.evaluate((s) => {
		const link = document.querySelector(`${s} a.ref`);
		link.scrollIntoView({ block: 'center' });
		link.focus({ preventScroll: true });
	}, sel);
	const where = (s) => page.evaluate((q) => ({
		y: window.scrollY,
		top: document.querySelector(q)?.getBoundingClientRect().top ?? null,
		focused: document.activeElement?.closest('tr')?.dataset.caseId ?? null,
		rows: document.querySelectorAll('section.inbox tbody tr').length,
	}), s);
	a.before = await where(sel);
	await handshake('live');
	await page.waitForSelector(`section.inbox tr[data-case-id="${P.new_id}"]`, { state: 'attached', timeout: WAIT_MS });
	await page.waitForSelector(`${sel}.changed`, { state: 'attached', timeout: WAIT_MS });
	await page.waitForTimeout(300); // a late scroll would show by now
	a.after = await where(sel);
	a.first_row = await page.$eval('section.inbox tbody tr', (tr) => tr.dataset.caseId);
	a.new_fresh = await page.$eval(`section.inbox tr[data-case-id="${P.new_id}"]`, (tr) => tr.classList.contains('fresh'));
	a.changed_subject = await page.textContent(`${sel} td.subject`);
	await shot(page, 'inbox-live');
};

// The stream's reload: the daemon is stopped, the events the page missed
// are pruned and a case changes behind its back; on reconnecting the
// stream says reload, and the page fetches its list again, in place.
AGENT_SCENARIOS.reload = async function reload(page, url, a) {
	await login(page, a);
	await inboxLoaded(page);
	await page.evaluate(() => { window.__ktdSamePage = true; });
	a.subject_before = await page.textContent(`section.inbox tr[data-case-id="${P.case_id}"] td.subject`);
	await handshake('stop');
	await page.waitForSelector('#banner:not([hidden])', { timeout: WAIT_MS });
	await handshake('start');
	await page.waitForSelector('html[data-live="ready"]', { timeout: 20_000 });
	await page.waitForFunction((id, s) => document.querySelector(`section.inbox tr[data-case-id="${id}"] td.subject`)?.textContent === s,
		[P.case_id, P.new_subject], { timeout: WAIT_MS }).catch(() => {});
	a.subject_after = await page.textContent(`section.inbox tr[data-case-id="${P.case_id}"] td.subject`);
	a.toast = (await page.textContent('#toast'))?.trim();
	a.same_page = await page.evaluate(() => window.__ktdSamePage === true);
	a.session_kept = await page.evaluate(() => document.documentElement.dataset.session === 'yes');
	await page.waitForSelector('#banner[hidden]', { state: 'attached', timeout: WAIT_MS });
	a.banner_hidden = true;
};

// A colleague answers the call that popped up: the pop closes.
AGENT_SCENARIOS.pop_colleague = async function popColleague(page, url, a) {
	await login(page, a);
	await inboxLoaded(page);
	const r = await postCti(url, { call_id: P.call_id, event: 'offered', at: new Date().toISOString(), from: P.phone, to: '36373839', queue: 'borgerservice' });
	a.offered_status = r.status;
	await page.waitForSelector('#screenpop:not([hidden])', { timeout: WAIT_MS });
	a.pop_call = await page.getAttribute('#screenpop', 'data-call-id');
	const r2 = await postCti(url, { call_id: P.call_id, event: 'answered', at: new Date().toISOString(), agent: P.colleague });
	a.answered_status = r2.status;
	a.answered_body = r2.body;
	await page.waitForSelector('#screenpop', { state: 'hidden', timeout: WAIT_MS });
	a.pop_hidden = await page.$eval('#screenpop', (e) => e.hidden);
	// a call the agent answers herself pops (and stays)
	const r3 = await postCti(url, { call_id: P.own_call_id, event: 'offered', at: new Date().toISOString(), from: P.phone, to: '36373839' });
	a.own_offered_status = r3.status;
	await page.waitForSelector(`#screenpop:not([hidden])[data-call-id="${P.own_call_id}"]`, { timeout: WAIT_MS });
	const r4 = await postCti(url, { call_id: P.own_call_id, event: 'answered', at: new Date().toISOString(), agent: P.login });
	a.own_answered_status = r4.status;
	await page.waitForSelector(`#screenpop:not([hidden])[data-state="answered"]`, { timeout: WAIT_MS });
	a.own_pop_title = (await page.textContent('#pop-title'))?.trim();
};

// An e-mail's attachment in the case view downloads under its own name.
AGENT_SCENARIOS.attachment = async function attachment(page, url, a) {
	await login(page, a);
	await openCase(page, P.case_id);
	const link = '.attachments a';
	await page.waitForSelector(link, { timeout: WAIT_MS });
	a.link_text = await page.textContent(link);
	a.link_download = await page.getAttribute(link, 'download');
	const [dl] = await Promise.all([
		page.waitForEvent('download', { timeout: WAIT_MS }),
		page.click(link),
	]);
	a.suggested = dl.suggestedFilename();
	a.failure = await dl.failure();
	const file = await dl.path();
	a.content = file ? fs.readFileSync(file, 'utf8') : null;
	a.url_path = new URL(dl.url()).pathname;
};

export async function runAgent(scenario, page, url, result) {
	const a = result.agent;
	try {
		await readStatus(page, result);
		await AGENT_SCENARIOS[scenario](page, url, a);
	} catch (e) {
		result.problems.push(`${scenario}: ${String(e?.message ?? e).replace(/\x1b\[[0-9;]*m/g, '').split('\n')[0]}`);
		await shot(page, `${scenario}-failed`).catch(() => {});
	}
}

// Console errors the scenario causes on purpose: the 401 of a wrong
// password or an ended session, and, while the daemon is down, the
// browser's own reports of refused requests.
export function expectedAgentConsoleError(scenario, m, urlPath) {
	if (scenario === 'login' && urlPath === '/api/v1/session' && /status of 401\b/.test(m.text)) return 'a wrong password answers 401';
	if (scenario === 'actions' && urlPath?.startsWith('/api/v1/cases/') && /status of 409\b/.test(m.text)) return 'the test changed the case first: 409';
	if (scenario === 'expiry' && urlPath?.startsWith('/api/v1/') && /status of 401\b/.test(m.text)) return 'the session was ended by the test';
	if ((scenario === 'reconnect' || scenario === 'reload') && (urlPath?.startsWith('/api/v1/') || urlPath === '/readyz') &&
		/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|status of 503\b/.test(m.text)) return 'the daemon was down';
	return null;
}
