// SPDX-License-Identifier: MPL-2.0
// Shared state of the page and the small widgets every view uses: the
// toast line, the one modal dialog, form fields, labels of enums.

import { h, replace, $ } from './dom.js';
import { t } from './i18n.js';
import { api, ApiError } from './api.js';

// What the views share: who is logged in and the directory.
export const ctx = {
	user: null, // {login, name, role, department_id}
	userId: null, // the logged-in user's id (GET /api/v1/me)
	departments: [],
	assignees: [], // [{id, name, login}] of the active users
	depById: new Map(),
	userNames: new Map(), // id -> name (GET /api/v1/assignees: the active users)
	navigate: (hash) => {
		if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
		else location.hash = hash;
	},
};

let toastTimer = null;
export function toast(msg, kind = 'ok') {
	const el = $('#toast');
	el.dataset.kind = kind;
	el.textContent = msg;
	clearTimeout(toastTimer);
	toastTimer = setTimeout(() => {
		el.textContent = '';
		delete el.dataset.kind;
	}, kind === 'error' ? 12000 : 6000);
}

export function errorText(e) {
	return e instanceof ApiError ? e.plain : t('err_other', { status: String(e?.message ?? e) });
}

export function showError(e) {
	if (e instanceof ApiError && e.status === 401) return; // back at the login already
	toast(errorText(e), 'error');
}

export function depName(id) {
	if (id === null || id === undefined) return '–';
	return ctx.depById.get(id)?.name ?? `#${id}`;
}

// A user as the agent reads them: "mig", the name the case answer carried
// (assignee_name), the name from the list of active users, or "bruger N"
// (a user disabled since).
export function assigneeText(id, name) {
	if (id === null || id === undefined) return t('nobody');
	if (ctx.userId !== null && id === ctx.userId) return t('me');
	return name || ctx.userNames.get(id) || t('user_n', { n: id });
}

// The active users' names, for assigneeText and the assignee picker.
export async function loadUserNames() {
	const r = await api('GET', '/assignees');
	ctx.assignees = r.items;
	ctx.userNames = new Map(r.items.map((u) => [u.id, u.name || u.login]));
	return r.items;
}

// A channel as a small labelled mark (the symbol comes from app.css).
export function channelMark(ch) {
	if (!ch) return h('span', { class: 'ch-mark' }, '–');
	return h('span', { class: `ch-mark ch-${ch}`, 'data-channel': ch }, t('ch_' + ch));
}

export function statusBadge(status) {
	return h('span', { class: `badge st-${status}`, 'data-status': status }, t('st_' + status));
}

export function channelText(ch) {
	return t('ch_' + ch);
}

// A labelled control; the label wraps it, so it needs no id.
export function field(label, control, hint) {
	return h('label', { class: 'field' }, h('span', { class: 'label' }, label), control, hint ? h('span', { class: 'hint' }, hint) : null);
}

export function dialogOpen() {
	return $('#dialog').open;
}

export function closeDialog() {
	const d = $('#dialog');
	if (d.open) d.close();
}

// One modal dialog with a form: onSubmit(form) resolves true to close it;
// an ApiError is shown inside the dialog, in plain words.
export function openDialog({ title, body, submitLabel, onSubmit, name }) {
	const d = $('#dialog');
	if (d.open) d.close();
	const err = h('p', { class: 'error', role: 'alert' });
	const submit = h('button', { type: 'submit', class: 'primary', 'data-action': 'submit' }, submitLabel);
	const cancel = h('button', { type: 'button', onclick: () => d.close() }, t('cancel'));
	const form = h('form', { method: 'dialog', 'data-dialog': name || '' },
		h('h2', { id: 'dialog-title' }, title),
		body,
		err,
		h('div', { class: 'buttons' }, submit, cancel));
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		if (submit.disabled) return;
		submit.disabled = true;
		err.textContent = '';
		try {
			const done = await onSubmit(form);
			if (done !== false) d.close();
		} catch (e) {
			if (e instanceof ApiError && e.status === 401) {
				d.close();
				return;
			}
			err.textContent = errorText(e);
		} finally {
			submit.disabled = false;
		}
	});
	replace(d, form);
	d.showModal();
	const first = form.querySelector('[autofocus]') || form.querySelector('input, select, textarea') || submit;
	first.focus();
	return form;
}
