// SPDX-License-Identifier: MPL-2.0
// The agent front end: login and session, the menu, the router
// (#/inbox, #/case/ID, #/callbacks, #/directory), the live stream, the
// lost-connection banner and the keyboard shortcuts.

import { h, replace, clear, $ } from './dom.js';
import { t, getLang, setLang } from './i18n.js';
import { api, setCsrf, onUnauthorized, onNetwork, ApiError } from './api.js';
import { Live } from './live.js';
import { ctx, toast, showError, closeDialog, dialogOpen, field, loadUserNames } from './ui.js';
import * as inbox from './inbox.js';
import * as caseView from './case.js';
import * as callbacks from './callbacks.js';
import * as directory from './directory.js';
import * as pop from './screenpop.js';

// Set after a login, cleared at logout: a fresh page with no session asks
// nothing of the API (and gets no 401 to log).
const SESSION_FLAG = 'ktd.session';

let current = null; // the module of the view shown
let netDown = false;

const live = new Live({
	onEvent: (type, data) => {
		inbox.onLive(type, data);
		caseView.onLive(type, data);
		pop.onLive(type, data);
	},
	onState: (s) => {
		// a stream that is up means the server answers again
		if (s === 'ready') netDown = false;
		banner();
	},
	onReload: () => {
		inbox.reload();
		toast(t('reloaded'));
	},
	// The stream was refused: a 401 (the session ended) shows the login.
	onClosed: () => {
		api('GET', '/me').catch(() => {});
	},
});

function banner() {
	const b = $('#banner');
	const down = ctx.user && (netDown || live.state === 'down');
	if (!down) {
		b.hidden = true;
		clear(b);
		return;
	}
	if (!b.hidden) return;
	replace(b, h('span', {}, t('offline')), ' ',
		h('button', { type: 'button', onclick: () => { live.retry(); checkServer(); } }, t('reconnect_now')));
	b.hidden = false;
}

// While a request has failed, /readyz is asked every few seconds until the
// server answers again.
let probeTimer = null;
function probe() {
	clearTimeout(probeTimer);
	probeTimer = setTimeout(async () => {
		probeTimer = null;
		if (!netDown || !ctx.user) return;
		try {
			const r = await fetch('/readyz', { cache: 'no-store' });
			if (r.ok) {
				netDown = false;
				banner();
				return;
			}
		} catch {
			// still down
		}
		probe();
	}, 5000);
}

onNetwork((ok) => {
	if (netDown === !ok) return;
	netDown = !ok;
	if (netDown) probe();
	banner();
});

onUnauthorized(() => endSession(t('session_expired')));

// The server's state in the footer (#status, as the smoke test reads it).
async function checkServer() {
	const el = $('#status');
	try {
		const r = await fetch('/readyz', { headers: { Accept: 'application/json' }, cache: 'no-store' });
		const body = await r.json().catch(() => ({}));
		el.textContent = r.ok ? t('server_ready') : t('server_not_ready') + (body.error ? body.error.message : '');
		el.dataset.state = r.ok ? 'ready' : 'not_ready';
	} catch {
		el.textContent = t('server_unreachable');
		el.dataset.state = 'unreachable';
	}
}

function staticTexts() {
	document.title = t('app_title');
	$('#brand').textContent = t('app_title');
	$('#skip').textContent = t('skip');
	$('#server-label').textContent = t('server');
	const lang = $('#lang');
	lang.textContent = t('lang_switch');
	lang.setAttribute('aria-label', t('lang_switch_label'));
	lang.setAttribute('lang', getLang() === 'da' ? 'en' : 'da');
	$('#logout').textContent = t('logout');
	$('#help-open').textContent = t('nav_help');
	$('#help-open').setAttribute('aria-keyshortcuts', '?');
	const nav = $('#nav');
	nav.setAttribute('aria-label', t('nav_label'));
	replace(nav,
		h('a', { href: '#/inbox', 'data-nav': 'inbox', 'aria-keyshortcuts': '1' }, t('nav_inbox')),
		h('a', { href: '#/callbacks', 'data-nav': 'callbacks', 'aria-keyshortcuts': '2' }, t('nav_callbacks')),
		h('a', { href: '#/directory', 'data-nav': 'directory', 'aria-keyshortcuts': '3' }, t('nav_directory')));
	const st = $('#status');
	if (st.dataset.state === 'ready') st.textContent = t('server_ready');
}

function showLogin(message, kind = 'error') {
	const sec = $('#login');
	const name = h('input', { type: 'text', name: 'login', autocomplete: 'username', required: true });
	const pw = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
	const msg = h('p', { class: kind === 'error' ? 'error' : 'info', role: 'alert', id: 'login-message' }, message || '');
	const button = h('button', { type: 'submit', class: 'primary' }, t('login_button'));
	const form = h('form', { id: 'login-form' }, field(t('login_name'), name), field(t('password'), pw), msg, button);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		button.disabled = true;
		msg.textContent = '';
		msg.className = 'error';
		try {
			const r = await api('POST', '/session', { body: { login: name.value, password: pw.value }, quiet401: true });
			await startSession(r);
		} catch (err) {
			if (err instanceof ApiError && err.status === 401) msg.textContent = t('login_wrong');
			else if (err instanceof ApiError && err.status === 429) msg.textContent = t('login_throttled');
			else msg.textContent = err instanceof ApiError ? err.plain : String(err);
			pw.value = '';
			pw.focus();
		} finally {
			button.disabled = false;
		}
	});
	replace(sec, h('h1', {}, t('login_title')), form);
	sec.hidden = false;
	clear($('#view'));
	name.focus();
}

async function startSession(me) {
	ctx.user = me.user;
	ctx.userId = me.user.id;
	setCsrf(me.csrf_token);
	try {
		localStorage.setItem(SESSION_FLAG, '1');
	} catch {
		// the session lasts for this page then
	}
	$('#login').hidden = true;
	clear($('#login'));
	$('#who').textContent = `${me.user.name || me.user.login} (${me.user.role})`;
	$('#nav').hidden = false;
	$('#logout').hidden = false;
	$('#help-open').hidden = false;
	document.documentElement.dataset.session = 'yes';
	try {
		await Promise.all([directory.loadDepartments(), loadUserNames()]);
	} catch (e) {
		showError(e);
	}
	live.start();
	route();
}

function endSession(message, kind) {
	live.stop();
	ctx.user = null;
	ctx.userId = null;
	ctx.userNames = new Map();
	ctx.assignees = [];
	setCsrf(null);
	try {
		localStorage.removeItem(SESSION_FLAG);
	} catch {
		// nothing kept
	}
	closeDialog();
	pop.dismiss();
	leaveCurrent();
	inbox.reset(false);
	$('#who').textContent = '';
	$('#nav').hidden = true;
	$('#logout').hidden = true;
	$('#help-open').hidden = true;
	delete document.documentElement.dataset.session;
	netDown = false;
	banner();
	showLogin(message, kind);
}

async function logout() {
	try {
		await api('DELETE', '/session', { quiet401: true });
	} catch {
		// the session is gone either way
	}
	endSession(t('logged_out'), 'info');
}

function leaveCurrent() {
	current?.leave();
	current = null;
	clear($('#view'));
}

async function route() {
	if (!ctx.user) return;
	const hash = location.hash || '#/inbox';
	const m = /^#\/case\/(\d+)$/.exec(hash);
	leaveCurrent();
	const view = $('#view');
	for (const a of document.querySelectorAll('#nav a')) {
		if (a.getAttribute('href') === hash) a.setAttribute('aria-current', 'page');
		else a.removeAttribute('aria-current');
	}
	document.documentElement.dataset.view = m ? 'case' : hash.slice(2);
	if (m) {
		current = caseView;
		await caseView.show(view, Number(m[1]));
		$('#case-title')?.focus({ preventScroll: true });
	} else if (hash === '#/callbacks') {
		current = callbacks;
		await callbacks.show(view);
	} else if (hash === '#/directory') {
		current = directory;
		await directory.show(view);
	} else {
		document.documentElement.dataset.view = 'inbox';
		current = inbox;
		inbox.show(view);
	}
}

function helpDialog() {
	const row = (k, text) => h('tr', {}, h('th', { scope: 'row' }, h('kbd', {}, k)), h('td', {}, text));
	const d = $('#dialog');
	const closeBtn = h('button', { type: 'button', class: 'primary', onclick: () => d.close() }, t('close'));
	replace(d, h('div', { class: 'help', 'data-dialog': 'help' },
		h('h2', { id: 'dialog-title' }, t('help_title')),
		h('h3', {}, t('keys_global')),
		h('table', {}, h('tbody', {},
			row('1', t('k_inbox')), row('2', t('k_callbacks')), row('3', t('k_directory')),
			row('/', t('k_search')), row('j / k', t('k_next')), row('p', t('k_pop')), row('?', t('k_help')), row('Esc', t('k_escape')))),
		h('h3', {}, t('keys_case')),
		h('table', {}, h('tbody', {},
			row('t', t('a_take')), row('a', t('a_assign')), row('l', t('a_resolve')), row('v', t('a_forward')), row('n', t('a_note')),
			row('s', t('a_reply')), row('o', t('a_reopen')), row('f', t('a_merge')))),
		h('div', { class: 'buttons' }, closeBtn)));
	d.showModal();
	closeBtn.focus();
}

function onKey(e) {
	if (!ctx.user || e.ctrlKey || e.metaKey || e.altKey) return;
	if (e.key === 'Escape' && pop.isOpen() && !dialogOpen()) {
		pop.dismiss();
		return;
	}
	if (dialogOpen()) return;
	const tag = e.target?.tagName;
	if (['INPUT', 'TEXTAREA', 'SELECT'].includes(tag) || e.target?.isContentEditable) return;
	let done = true;
	switch (e.key) {
	case '1': ctx.navigate('#/inbox'); break;
	case '2': ctx.navigate('#/callbacks'); break;
	case '3': ctx.navigate('#/directory'); break;
	case '?': helpDialog(); break;
	case '/':
		if (current === inbox) inbox.focusSearch();
		else if (current === directory) directory.focusSearch();
		else done = false;
		break;
	case 'j': if (current === inbox) inbox.step(1); else done = false; break;
	case 'k': if (current === inbox) inbox.step(-1); else done = false; break;
	case 'p': if (pop.isOpen()) pop.focus(); else done = false; break;
	default:
		done = current === caseView && caseView.onKey(e.key);
	}
	if (done) e.preventDefault();
}

async function boot() {
	setLang(getLang());
	staticTexts();
	checkServer();
	$('#lang').addEventListener('click', () => {
		setLang(getLang() === 'da' ? 'en' : 'da');
		staticTexts();
		if (ctx.user) {
			$('#who').textContent = `${ctx.user.name || ctx.user.login} (${ctx.user.role})`;
			inbox.reset(true);
			route();
		} else {
			showLogin($('#login-message')?.textContent);
		}
	});
	$('#logout').addEventListener('click', logout);
	$('#help-open').addEventListener('click', helpDialog);
	$('#dialog').addEventListener('close', () => {
		caseView.dialogClosed();
		// the button that opened the dialog may be gone (the case was
		// drawn again): keep the focus in the page
		setTimeout(() => {
			if (document.activeElement === document.body || !document.activeElement) ($('#case-title') || $('#main')).focus();
		}, 0);
	});
	document.addEventListener('keydown', onKey);
	window.addEventListener('hashchange', () => route());
	let flagged = false;
	try {
		flagged = localStorage.getItem(SESSION_FLAG) === '1';
	} catch {
		flagged = false;
	}
	if (flagged) {
		try {
			const me = await api('GET', '/me', { quiet401: true });
			if (me.auth === 'session') {
				await startSession(me);
				return;
			}
		} catch (e) {
			if (!(e instanceof ApiError && e.status === 401)) showError(e);
			try {
				localStorage.removeItem(SESSION_FLAG);
			} catch {
				// nothing kept
			}
			showLogin(e instanceof ApiError && e.status === 401 ? t('session_expired') : '');
			return;
		}
	}
	showLogin('');
}

boot();
