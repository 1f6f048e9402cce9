// SPDX-License-Identifier: MPL-2.0
// The directory (telefonbog): every department with its numbers, methods
// and phone hours, and whether it is open now.

import { h, replace } from './dom.js';
import { t } from './i18n.js';
import { api } from './api.js';
import { ctx, showError } from './ui.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

export async function loadDepartments() {
	const r = await api('GET', '/departments');
	ctx.departments = r.items;
	ctx.depById = new Map(r.items.map((d) => [d.id, d]));
	return r.items;
}

// {"mon": [["08:00","15:00"]]} -> "man 08:00–15:00 · tir …"
export function fmtHours(hours) {
	if (!hours) return '';
	const names = t('weekdays');
	return DAYS.filter((d) => hours[d]?.length)
		.map((d) => `${names[d]} ${hours[d].map(([a, b]) => `${a}–${b}`).join(', ')}`)
		.join(' · ');
}

let root = null;
let q = '';

export async function show(view) {
	const input = h('input', { type: 'search', name: 'q', id: 'dir-search', value: q, autocomplete: 'off' });
	const body = h('tbody');
	const empty = h('p', { class: 'empty', hidden: true }, t('dir_none'));
	root = h('section', { class: 'directory', 'aria-labelledby': 'dir-title' },
		h('h1', { id: 'dir-title' }, t('dir_title')),
		h('div', { class: 'filters' }, h('label', { class: 'field' }, h('span', { class: 'label' }, t('dir_search')), input)),
		h('div', { class: 'table-wrap' }, h('table', { class: 'deps' },
			h('thead', {}, h('tr', {}, ['col_name', 'col_numbers', 'col_email', 'col_hours', 'col_now', 'col_centre']
				.map((k) => h('th', { scope: 'col' }, t(k))))),
			body)),
		empty);
	view.appendChild(root);
	const mine = root;
	let timer = null;
	const load = async () => {
		try {
			const r = await api('GET', '/departments', { query: { q: q.trim() } });
			if (root !== mine) return;
			replace(body, r.items.map(row));
			empty.hidden = r.items.length > 0;
			root.dataset.loaded = 'true';
		} catch (e) {
			showError(e);
		}
	};
	input.addEventListener('input', () => {
		q = input.value;
		clearTimeout(timer);
		timer = setTimeout(load, 250);
	});
	await load();
}

function row(d) {
	const nums = [
		d.queue_number ? [t('queue_number'), d.queue_number] : null,
		d.hunt_group_number ? [t('hunt_group_number'), d.hunt_group_number] : null,
		d.ivr_choice ? [t('ivr_choice'), d.ivr_choice] : null,
	].filter(Boolean);
	return h('tr', { 'data-department-id': String(d.id), class: d.active ? null : 'inactive' },
		h('th', { scope: 'row' }, d.name, d.parent ? h('span', { class: 'parent' }, ` (${d.parent})`) : null),
		h('td', {}, nums.length ? h('ul', { class: 'plain' }, nums.map(([k, v]) => h('li', {}, `${k}: `, h('strong', {}, v)))) : '–'),
		h('td', {}, d.email ? h('a', { href: `mailto:${d.email}` }, d.email) : '–'),
		h('td', {}, fmtHours(d.phone_hours) || t('no_hours')),
		h('td', {}, d.open_now ? h('span', { class: 'badge open' }, t('open_now')) : h('span', { class: 'badge shut' }, t('closed'))),
		h('td', {}, d.handled_by_centre ? t('centre_phase', { n: d.phase ?? '–' }) : t('no')));
}

export function leave() {
	root = null;
}

export function focusSearch() {
	root?.querySelector('#dir-search')?.focus();
}

