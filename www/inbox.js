// SPDX-License-Identifier: MPL-2.0
// The inbox: one list of cases of every channel, with tabs by channel,
// filters, full-text search, "Vis flere" paging and live updates that do
// not move the agent's place.

import { h, replace } from './dom.js';
import { t, fmtTime, fmtAge } from './i18n.js';
import { api } from './api.js';
import { ctx, depName, assigneeText, statusBadge, channelMark, showError } from './ui.js';

const PAGE = 50;
const CHANNELS = ['', 'phone', 'email', 'digital_post'];
const STATUSES = ['', 'new', 'open', 'forwarded', 'resolved', 'closed'];

const f = { channel: '', status: '', department_id: '', mine: false, q: '', sort: 'newest' };
let items = []; // in API order (newest or, sorted so, oldest first)
let nextCursor = null;
let root = null;
let els = {};
let loadSeq = 0;
let pending = 0; // live changes we cannot place (search or channel filter)
let countTimer = null;
let savedScroll = 0;
let loaded = false;

// The list's filters (GET /api/v1/cases and /cases/counts take the same).
function query(extra) {
	return {
		channel: f.channel,
		status: f.status,
		department_id: f.department_id,
		assignee_id: f.mine ? 'me' : '',
		q: f.q.trim(),
		...extra,
	};
}

function build() {
	const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': t('channel_tabs') },
		CHANNELS.map((ch) => h('button', {
			type: 'button',
			class: 'tab',
			'data-channel': ch,
			'aria-pressed': String(f.channel === ch),
			onclick: () => {
				f.channel = ch;
				reload();
			},
		}, ch ? t('ch_' + ch) : t('all'), ' ', h('span', { class: 'count', 'data-count': ch }))));
	const status = h('select', { name: 'status', onchange: (e) => { f.status = e.target.value; reload(); } },
		STATUSES.map((s) => h('option', { value: s, selected: f.status === s }, s ? t('st_' + s) : t('all'))));
	const dep = h('select', { name: 'department', onchange: (e) => { f.department_id = e.target.value; reload(); } },
		h('option', { value: '' }, t('all_departments')),
		ctx.departments.map((d) => h('option', { value: String(d.id), selected: f.department_id === String(d.id) }, d.name)));
	const mine = h('input', { type: 'checkbox', name: 'mine', checked: f.mine, onchange: (e) => { f.mine = e.target.checked; reload(); } });
	const search = h('input', { type: 'search', name: 'q', id: 'inbox-search', value: f.q, placeholder: t('search_placeholder'), maxlength: '200' });
	let searchTimer = null;
	search.addEventListener('input', () => {
		clearTimeout(searchTimer);
		searchTimer = setTimeout(() => {
			f.q = search.value;
			reload();
		}, 300);
	});
	search.addEventListener('keydown', (e) => {
		if (e.key === 'Enter') {
			clearTimeout(searchTimer);
			f.q = search.value;
			reload();
		}
	});
	const sort = h('select', { name: 'sort', onchange: (e) => { f.sort = e.target.value; reload(); } },
		h('option', { value: 'newest', selected: f.sort === 'newest' }, t('sort_newest')),
		h('option', { value: 'oldest', selected: f.sort === 'oldest' }, t('sort_oldest')));
	const filters = h('div', { class: 'filters' },
		h('label', { class: 'field' }, h('span', { class: 'label' }, t('search')), search),
		h('label', { class: 'field' }, h('span', { class: 'label' }, t('status')), status),
		h('label', { class: 'field' }, h('span', { class: 'label' }, t('department')), dep),
		h('label', { class: 'field' }, h('span', { class: 'label' }, t('sort')), sort),
		h('label', { class: 'check' }, mine, ' ', t('mine'), ' ', h('span', { class: 'count', 'data-count': 'mine' })));
	els.notice = h('p', { class: 'notice', hidden: true });
	els.tbody = h('tbody');
	els.empty = h('p', { class: 'empty', hidden: true }, t('no_cases'));
	els.more = h('button', { type: 'button', class: 'more', hidden: true, onclick: () => more() }, t('more'));
	const table = h('table', { class: 'cases' },
		h('caption', { class: 'sr-only' }, t('cases_list')),
		h('thead', {}, h('tr', {},
			['col_reference', 'col_channel', 'col_subject', 'col_status', 'col_department', 'col_assignee', 'col_created', 'col_age']
				.map((k) => h('th', { scope: 'col' }, t(k))))),
		els.tbody);
	els.tabs = tabs;
	root = h('section', { class: 'inbox', 'aria-labelledby': 'inbox-title' },
		h('h1', { id: 'inbox-title' }, t('nav_inbox')),
		tabs, filters, els.notice, h('div', { class: 'table-wrap' }, table), els.empty, els.more);
}

function row(c) {
	const mine = ctx.userId !== null && c.assignee_id === ctx.userId;
	return h('tr', { 'data-case-id': String(c.id), 'data-status': c.status, class: mine ? 'mine' : null },
		h('td', {}, h('a', { href: `#/case/${c.id}`, class: 'ref' }, c.reference)),
		h('td', { class: 'channel' }, channelMark(c.channel)),
		h('td', { class: 'subject' }, c.subject || t('no_subject')),
		h('td', {}, statusBadge(c.status)),
		h('td', {}, depName(c.department_id)),
		h('td', { class: 'assignee' }, assigneeText(c.assignee_id, c.assignee_name)),
		h('td', {}, h('time', { datetime: c.created_at }, fmtTime(c.created_at))),
		h('td', {}, fmtAge(c.created_at)));
}

function render() {
	replace(els.tbody, items.map(row));
	els.empty.hidden = items.length > 0;
	els.more.hidden = !nextCursor;
	for (const b of els.tabs.querySelectorAll('.tab')) b.setAttribute('aria-pressed', String(b.dataset.channel === f.channel));
	showPending();
}

function showPending() {
	if (!pending) {
		els.notice.hidden = true;
		return;
	}
	replace(els.notice, t('new_live', { n: pending }), ' ',
		h('button', { type: 'button', class: 'link', onclick: () => reload() }, t('show_them')));
	els.notice.hidden = false;
}

export async function reload() {
	const seq = ++loadSeq;
	pending = 0;
	root?.setAttribute('aria-busy', 'true');
	try {
		const r = await api('GET', '/cases', { query: query({ limit: PAGE, order: order() }) });
		if (seq !== loadSeq) return;
		items = r.items;
		nextCursor = r.next_cursor ?? null;
		loaded = true;
		render();
		root.dataset.loaded = 'true';
	} catch (e) {
		showError(e);
	} finally {
		if (seq === loadSeq) root?.removeAttribute('aria-busy');
	}
	scheduleCounts(0);
}

async function more() {
	if (!nextCursor) return;
	const seq = loadSeq;
	try {
		const r = await api('GET', '/cases', { query: query({ limit: PAGE, order: order(), cursor: nextCursor }) });
		if (seq !== loadSeq) return;
		const have = new Set(items.map((c) => c.id));
		items = items.concat(r.items.filter((c) => !have.has(c.id)));
		nextCursor = r.next_cursor ?? null;
		render();
	} catch (e) {
		showError(e);
	}
}

function order() {
	return f.sort === 'oldest' ? 'asc' : 'desc';
}

// Counts per channel tab (and of "Kun mine") under the other filters, as
// the API counts them: up to its cap, "1000+" beyond.
function scheduleCounts(ms) {
	clearTimeout(countTimer);
	countTimer = setTimeout(counts, ms);
}

function countText(c) {
	return c ? `(${c.count}${c.more ? '+' : ''})` : '';
}

let countSeq = 0;
async function counts() {
	if (!root) return;
	const seq = ++countSeq;
	let r;
	try {
		r = await api('GET', '/cases/counts', { query: query({ channel: '' }) });
	} catch {
		return; // the list shows the error
	}
	if (seq !== countSeq || !root) return;
	for (const ch of CHANNELS) {
		const el = root.querySelector(`[data-count="${ch}"]`);
		if (el) el.textContent = countText(ch ? r.channels[ch] : r.total);
	}
	// "Kun mine" counts the cases the other filters give that are mine.
	const mine = root.querySelector('[data-count="mine"]');
	if (mine) {
		let c = r.mine;
		if (f.channel && c) c = null; // not counted per channel: say nothing
		mine.textContent = countText(c);
	}
}

function matches(c) {
	if (c.merged_into_id) return false;
	if (f.status && c.status !== f.status) return false;
	if (f.department_id && String(c.department_id) !== f.department_id) return false;
	if (f.mine && (ctx.userId === null || c.assignee_id !== ctx.userId)) return false;
	return true;
}

// A live case event: change the row in place, or add a new case at the
// top, keeping the agent's scroll position and focus.
export function onLive(type, data) {
	const c = data.case;
	if (!c || !root || !loaded) return;
	const i = items.findIndex((x) => x.id === c.id);
	if (i >= 0) {
		// an event from before the API named assignees: no stale name
		if (!('assignee_name' in c) && c.assignee_id !== items[i].assignee_id) c.assignee_name = null;
		items[i] = { ...items[i], ...c };
		const old = els.tbody.querySelector(`tr[data-case-id="${c.id}"]`);
		if (old) {
			const fresh = row(items[i]);
			fresh.classList.add('changed');
			if (!matches(items[i])) fresh.classList.add('stale');
			const hadFocus = old.contains(document.activeElement);
			old.replaceWith(fresh);
			if (hadFocus) fresh.querySelector('a')?.focus({ preventScroll: true });
		}
	} else if (matches(c)) {
		if (f.channel || f.q.trim()) {
			pending++;
			showPending();
		} else if (f.sort === 'newest' || !nextCursor) {
			const atTop = f.sort === 'newest';
			const before = document.documentElement.scrollHeight;
			if (atTop) items.unshift(c);
			else items.push(c);
			const tr = row(c);
			tr.classList.add('fresh');
			if (atTop) els.tbody.prepend(tr);
			else els.tbody.append(tr);
			els.empty.hidden = true;
			// keep what the agent looks at where it is (app.css turns the
			// browser's scroll anchoring off here: it would move it twice)
			if (atTop && window.scrollY > 0) window.scrollBy(0, document.documentElement.scrollHeight - before);
		}
	}
	scheduleCounts(3000);
}

export function show(view) {
	if (!root) {
		build();
		reload();
	}
	view.appendChild(root);
	window.scrollTo(0, savedScroll);
}

export function leave() {
	savedScroll = window.scrollY;
}

// Draws the rows again (the user id is known now: "mig").
export function redraw() {
	if (root && loaded) render();
}

export function focusSearch() {
	root?.querySelector('#inbox-search')?.focus();
}

// j / k: the next or previous case link.
export function step(dir) {
	const links = [...els.tbody.querySelectorAll('a.ref')];
	if (!links.length) return;
	const i = links.indexOf(document.activeElement);
	const n = i < 0 ? 0 : Math.max(0, Math.min(links.length - 1, i + dir));
	links[n].focus();
}

// After logout or a language switch: built again on the next visit.
export function reset(keepFilters) {
	root = null;
	els = {};
	items = [];
	nextCursor = null;
	loaded = false;
	pending = 0;
	savedScroll = 0;
	if (!keepFilters) Object.assign(f, { channel: '', status: '', department_id: '', mine: false, q: '', sort: 'newest' });
	clearTimeout(countTimer);
}
