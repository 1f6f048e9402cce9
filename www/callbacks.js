// SPDX-License-Identifier: MPL-2.0
// Callbacks: the due list (oldest due first) and recording an attempt.

import { h, replace } from './dom.js';
import { t, fmtTime } from './i18n.js';
import { api, ApiError } from './api.js';
import { toast, showError, openDialog, field } from './ui.js';

let root = null;
let dueOnly = true;
let items = [];
let next = null;

export async function show(view) {
	const due = h('input', { type: 'checkbox', name: 'due', checked: dueOnly, onchange: (e) => { dueOnly = e.target.checked; load(); } });
	const body = h('tbody');
	const empty = h('p', { class: 'empty', hidden: true }, t('cb_none'));
	const more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => load(true) }, t('more'));
	root = h('section', { class: 'callbacks', 'aria-labelledby': 'cb-title' },
		h('h1', { id: 'cb-title' }, t('cb_title')),
		h('div', { class: 'filters' }, h('label', { class: 'check' }, due, ' ', t('cb_due_only'))),
		h('div', { class: 'table-wrap' }, h('table', {},
			h('thead', {}, h('tr', {}, ['cb_due', 'cb_number', 'cb_message', 'col_reference', 'cb_attempts', 'actions']
				.map((k) => h('th', { scope: 'col' }, t(k))))),
			body)),
		empty, more);
	root.els = { body, empty, more };
	view.appendChild(root);
	await load();
}

async function load(append) {
	const mine = root;
	if (!mine) return;
	try {
		const r = await api('GET', '/callbacks', {
			query: { status: 'open', due_before: dueOnly ? new Date().toISOString() : '', limit: 50, cursor: append ? next : '' },
		});
		if (root !== mine) return;
		items = append ? items.concat(r.items) : r.items;
		next = r.next_cursor;
		replace(mine.els.body, items.map(row));
		mine.els.empty.hidden = items.length > 0;
		mine.els.more.hidden = !next;
		mine.dataset.loaded = 'true';
	} catch (e) {
		showError(e);
	}
}

function row(cb) {
	return h('tr', { 'data-callback-id': String(cb.id) },
		h('td', {}, h('time', { datetime: cb.due_at }, fmtTime(cb.due_at))),
		h('td', {}, h('a', { href: `tel:${cb.number}` }, cb.number)),
		h('td', { class: 'text' }, cb.message),
		h('td', {}, h('a', { href: `#/case/${cb.case_id}` }, cb.case_reference)),
		h('td', {}, String(cb.attempts)),
		h('td', { class: 'row-actions' },
			h('button', { type: 'button', 'data-result': 'reached', onclick: () => attempt(cb, 'reached') }, t('cb_reached')),
			' ',
			h('button', { type: 'button', 'data-result': 'not_reached', onclick: () => attempt(cb, 'not_reached') }, t('cb_not_reached'))));
}

function attempt(cb, result) {
	const note = h('textarea', { name: 'note', rows: '3', maxlength: '2000' });
	const form = openDialog({
		name: 'attempt',
		title: `${t('cb_' + result)}: ${cb.number}`,
		submitLabel: t('save'),
		body: [field(t('cb_note'), note)],
		onSubmit: async () => {
			try {
				await api('POST', `/callbacks/${cb.id}/attempts`, {
					body: { result, version: cb.version, ...(note.value.trim() ? { note: note.value.trim() } : {}) },
				});
				toast(t('cb_recorded'));
			} catch (e) {
				if (!(e instanceof ApiError && e.status === 409)) throw e;
				toast(t('conflict'), 'error');
			}
			await load();
			return true;
		},
	});
	form.querySelector('[data-action="submit"]').focus();
}

export function leave() {
	root = null;
}
