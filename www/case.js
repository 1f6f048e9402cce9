// SPDX-License-Identifier: MPL-2.0
// One case: its header, the actions (take, assign, resolve, forward, note,
// reply, reopen, merge) with the version the agent saw, the timeline of contacts,
// the forwards and, for supervisors, the audit trail. User-supplied text
// is only ever put in as text nodes.

import { h, replace } from './dom.js';
import { t, fmtTime, fmtSeconds } from './i18n.js';
import { api, ApiError } from './api.js';
import { ctx, toast, showError, openDialog, field, depName, assigneeText, statusBadge, channelText, channelMark, dialogOpen, loadUserNames } from './ui.js';
import { fmtHours, loadDepartments } from './directory.js';

let cur = null; // the case as last loaded
let curId = null;
let root = null;
let staleWhileDialog = false;
let liveTimer = null;

const ACTIVE = ['new', 'open', 'forwarded'];

export async function show(view, id) {
	curId = id;
	cur = null;
	root = h('section', { class: 'case', 'aria-busy': 'true' }, h('p', {}, t('loading')));
	view.appendChild(root);
	await load();
}

export function leave() {
	clearTimeout(liveTimer);
	curId = null;
	cur = null;
	root = null;
}

export function currentId() {
	return curId;
}

async function load() {
	const id = curId;
	if (id === null) return;
	try {
		const c = await api('GET', `/cases/${id}`);
		if (id !== curId || !root) return;
		let audit = null;
		if (ctx.user && ['supervisor', 'admin'].includes(ctx.user.role)) {
			try {
				audit = (await api('GET', '/audit', { query: { case_id: id, limit: 50 } })).items;
			} catch {
				audit = null;
			}
		}
		if (id !== curId || !root) return;
		cur = c;
		render(audit);
	} catch (e) {
		if (id !== curId || !root) return;
		root.removeAttribute('aria-busy');
		replace(root, h('p', { class: 'error', role: 'alert' }, e instanceof ApiError ? e.plain : String(e)),
			h('p', {}, h('a', { href: '#/inbox' }, t('back_inbox'))));
		showError(e);
	}
}

function can(action) {
	const c = cur;
	if (!c) return false;
	const merged = c.merged_into_id !== null;
	switch (action) {
	case 'take': return ACTIVE.includes(c.status) && !(ctx.userId !== null && c.assignee_id === ctx.userId);
	case 'assign': return ACTIVE.includes(c.status) && !merged;
	case 'resolve': return ACTIVE.includes(c.status);
	case 'forward': return c.status !== 'closed' && !merged;
	case 'note': return !merged;
	case 'reply': return c.status !== 'closed' && !merged;
	case 'reopen': return ['resolved', 'closed'].includes(c.status) && !merged;
	case 'merge': return c.status !== 'closed' && !merged;
	default: return false;
	}
}

const ACTIONS = [
	['take', 'a_take', 't', take],
	['assign', 'a_assign', 'a', assignDialog],
	['resolve', 'a_resolve', 'l', resolveDialog],
	['forward', 'a_forward', 'v', forwardDialog],
	['note', 'a_note', 'n', noteDialog],
	['reply', 'a_reply', 's', replyDialog],
	['reopen', 'a_reopen', 'o', reopenDialog],
	['merge', 'a_merge', 'f', mergeDialog],
];

// The case shortcuts (app.js hands us the key).
export function onKey(key) {
	const a = ACTIONS.find((x) => x[2] === key);
	if (!a || !can(a[0])) return false;
	a[3]();
	return true;
}

function render(audit) {
	const c = cur;
	const cz = c.citizen || {};
	const citizen = [cz.name, cz.phone, cz.email, cz.cpr, cz.cvr].filter(Boolean).join(' · ') || t('unknown_citizen');
	const actions = h('div', { class: 'actions', role: 'toolbar', 'aria-label': t('actions') },
		ACTIONS.map(([name, label, key, fn]) => h('button', {
			type: 'button',
			'data-action': name,
			'aria-keyshortcuts': key,
			disabled: !can(name),
			class: name === 'resolve' || name === 'take' ? 'primary' : null,
			onclick: () => fn(),
		}, t(label), ' ', h('kbd', { 'aria-hidden': 'true' }, key))));
	const header = h('header', { class: 'case-head' },
		h('p', {}, h('a', { href: '#/inbox' }, t('back_inbox'))),
		h('h1', { id: 'case-title', tabindex: '-1' }, h('span', { class: 'ref', 'data-ref': c.reference }, c.reference), ' ',
			h('span', { class: 'subject' }, c.subject || t('no_subject'))),
		c.follow_up_of ? h('p', { class: 'follow-up', 'data-fact': 'follow_up_of' },
			h('a', { href: `#/case/${Number(c.follow_up_of.id)}` }, t('follow_up_of', { ref: c.follow_up_of.reference }))) : null,
		h('dl', { class: 'facts' },
			fact(t('status'), statusBadge(c.status), 'status'),
			c.resolution ? fact(t('resolution'), t('r_' + c.resolution), 'resolution') : null,
			fact(t('citizen'), citizen, 'citizen'),
			fact(t('department'), depName(c.department_id), 'department'),
			fact(t('col_channel'), channelMark(c.channel), 'channel'),
			fact(t('col_assignee'), assigneeText(c.assignee_id, c.assignee_name), 'assignee'),
			c.category ? fact(t('category'), c.category, 'category') : null,
			fact(t('created'), fmtTime(c.created_at), 'created'),
			c.merged_into_id ? fact(t('merged_into'), h('a', { href: `#/case/${c.merged_into_id}` }, `→ #${c.merged_into_id}`), 'merged') : null),
		actions);
	const timeline = h('section', { class: 'timeline', 'aria-labelledby': 'tl-title' },
		h('h2', { id: 'tl-title' }, t('timeline')),
		c.contacts.length ? h('ol', { class: 'contacts' }, c.contacts.map((ct) => h('li', {}, contact(ct))))
			: h('p', {}, t('no_contacts')));
	const forwards = h('section', { class: 'forwards', 'aria-labelledby': 'fw-title' },
		h('h2', { id: 'fw-title' }, t('forwards')),
		c.forwards.length ? h('ul', {}, c.forwards.map(forward)) : h('p', {}, t('no_forwards')));
	const parts = [header, timeline, forwards];
	if (audit) {
		parts.push(h('section', { class: 'audit', 'aria-labelledby': 'au-title' },
			h('h2', { id: 'au-title' }, t('audit')),
			h('table', {},
				h('thead', {}, h('tr', {}, ['au_at', 'au_action', 'au_who', 'au_detail'].map((k) => h('th', { scope: 'col' }, t(k))))),
				h('tbody', {}, audit.map((a) => h('tr', { 'data-action': a.action },
				h('td', {}, fmtTime(a.at)),
				h('td', {}, a.action),
				h('td', {}, a.actor_user_id !== null && a.actor_user_id !== undefined ? assigneeText(a.actor_user_id) : (a.actor_token || a.peer || '')),
				h('td', {}, JSON.stringify(a.detail))))))));
	}
	root.removeAttribute('aria-busy');
	root.dataset.caseId = String(c.id);
	root.dataset.status = c.status;
	root.dataset.version = String(c.version);
	replace(root, ...parts);
}

function fact(label, value, key) {
	return h('div', { 'data-fact': key }, h('dt', {}, label), h('dd', {}, value));
}

function contact(ct) {
	const call = ct.call;
	const head = h('p', { class: 'meta' },
		h('span', { class: 'channel' }, channelText(ct.channel)), ' · ',
		t('dir_' + ct.direction), ' · ',
		h('time', { datetime: ct.occurred_at }, fmtTime(ct.occurred_at)),
		ct.from ? [' · ', t('from'), ' ', h('span', { class: 'from' }, ct.from)] : null,
		ct.to ? [' · ', t('to'), ' ', h('span', { class: 'to' }, ct.to)] : null);
	const body = [];
	if (ct.subject) body.push(h('h3', { class: 'subject' }, ct.subject));
	if (call) {
		body.push(h('dl', { class: 'call' },
			fact(t('c_state'), t('s_' + call.state), 'state'),
			call.outcome ? fact(t('c_outcome'), t('o_' + call.outcome), 'outcome') : null,
			fact(t('c_wait'), fmtSeconds(call.wait_seconds), 'wait'),
			fact(t('c_talk'), fmtSeconds(call.talk_seconds), 'talk'),
			call.queue ? fact(t('c_queue'), call.queue, 'queue') : null,
			call.answered_by ? fact(t('c_answered_by'), call.answered_by, 'answered_by') : null,
			call.transfers ? fact(t('c_transfers'), String(call.transfers), 'transfers') : null,
			call.transferred_to ? fact(t('c_transferred_to'), call.transferred_to, 'transferred_to') : null,
			call.returns ? fact(t('c_returns'), String(call.returns), 'returns') : null,
			call.diversions ? fact(t('c_diversions'), String(call.diversions), 'diversions') : null,
			call.callback_requested ? fact(t('c_callback_requested'), '✓', 'callback') : null));
	}
	if (ct.text) body.push(h('div', { class: 'text' }, ct.text));
	if (ct.delivery) {
		const d = ct.delivery;
		body.push(h('p', { class: `delivery d-${d.status}`, 'data-delivery': d.status },
			t('delivery'), ': ', t('d_' + d.status), ` (${d.attempts} ${t('attempts')})`,
			d.sent_at ? ` ${fmtTime(d.sent_at)}` : null,
			d.last_error ? [' – ', h('span', { class: 'last-error' }, d.last_error)] : null));
	}
	if (ct.attachments?.length) {
		body.push(h('div', { class: 'attachments' }, h('h4', {}, t('attachments')),
			h('ul', {}, ct.attachments.map((a) => h('li', {},
				h('a', { href: `/api/v1/cases/${ct.case_id}/attachments/${a.id}`, download: a.filename }, a.filename),
				` (${a.content_type}, ${a.size} B)`)))));
	}
	return h('article', { class: `contact ch-${ct.channel} dir-${ct.direction}`, 'data-contact-id': String(ct.id), 'data-channel': ct.channel }, head, body);
}

function forward(fw) {
	return h('li', { 'data-forward-id': String(fw.id), 'data-method': fw.method },
		h('time', { datetime: fw.at }, fmtTime(fw.at)), ' → ',
		h('strong', {}, depName(fw.to_department_id)), ' (', t('m_' + fw.method),
		fw.target ? [': ', h('span', { class: 'target' }, fw.target)] : null, ')',
		fw.reason ? [' – ', h('span', { class: 'reason' }, fw.reason)] : null, ' – ',
		h('span', { class: fw.returned_at ? 'returned' : 'not-returned' },
			fw.returned_at ? t('fw_returned', { at: fmtTime(fw.returned_at) }) : t('fw_not_returned')));
}

// Runs one action; a 409 that carries the case shows the case as it is
// now and says so.
async function act(fn, okText) {
	try {
		const r = await fn();
		if (okText) toast(okText);
		await load();
		return r;
	} catch (e) {
		if (e instanceof ApiError && e.status === 409 && e.body?.case) {
			toast(t('conflict'), 'error');
			await load();
			return true;
		}
		throw e;
	}
}

async function take() {
	const id = curId;
	try {
		const uid = ctx.userId;
		await act(() => api('PATCH', `/cases/${id}`, { body: { assignee_id: uid }, ifMatch: cur.version }), t('taken'));
	} catch (e) {
		showError(e);
	}
}

// Assign the case to a colleague (or to nobody), from the active users.
async function assignDialog() {
	let users = ctx.assignees;
	try {
		users = await loadUserNames();
	} catch (e) {
		if (!users.length) {
			showError(e);
			return;
		}
	}
	const sel = h('select', { name: 'assignee', autofocus: true },
		h('option', { value: '', selected: cur.assignee_id === null }, t('nobody')),
		users.map((u) => h('option', { value: String(u.id), selected: u.id === cur.assignee_id },
			(u.name || u.login) + (u.id === ctx.userId ? ` (${t('me')})` : ''))),
		// an assignee no longer active stays what it is unless changed
		cur.assignee_id !== null && !users.some((u) => u.id === cur.assignee_id)
			? h('option', { value: String(cur.assignee_id), selected: true }, assigneeText(cur.assignee_id, cur.assignee_name))
			: null);
	openDialog({
		name: 'assign',
		title: t('assign_title'),
		submitLabel: t('assign_submit'),
		body: [field(t('col_assignee'), sel)],
		onSubmit: () => {
			const uid = sel.value ? Number(sel.value) : null;
			const name = uid === null ? t('nobody') : assigneeText(uid);
			return act(() => api('PATCH', `/cases/${curId}`, { body: { assignee_id: uid }, ifMatch: cur.version }),
				t('assigned_ok', { name }));
		},
	});
}

function resolveDialog() {
	const sel = h('select', { name: 'resolution' },
		['resolved_first_contact', 'answered_later', 'callback', 'duplicate', 'spam'].map((r) => h('option', { value: r }, t('r_' + r))));
	const cat = h('input', { type: 'text', name: 'category', maxlength: '100', value: cur.category || '' });
	const form = openDialog({
		name: 'resolve',
		title: t('resolve_title'),
		submitLabel: t('resolve_submit'),
		body: [field(t('resolution'), sel), field(t('category'), cat)],
		onSubmit: () => act(() => api('POST', `/cases/${curId}/resolve`, {
			body: { resolution: sel.value, ...(cat.value.trim() ? { category: cat.value.trim() } : {}) },
			ifMatch: cur.version,
		}), t('resolved_ok')),
	});
	// two clicks, or l then Enter: the submit button has the focus
	form.querySelector('[data-action="submit"]').focus();
}

const METHOD_FIELD = { queue: 'queue_number', hunt_group: 'hunt_group_number', ivr: 'ivr_choice', email: 'email' };

async function forwardDialog() {
	try {
		await loadDepartments();
	} catch (e) {
		showError(e);
	}
	const deps = ctx.departments.filter((d) => d.active && d.id !== cur.department_id);
	const sel = h('select', { name: 'department', required: true, autofocus: true },
		h('option', { value: '' }, t('choose_department')),
		deps.map((d) => h('option', { value: String(d.id) }, d.name)));
	const info = h('div', { class: 'dep-info', 'aria-live': 'polite' });
	const methods = h('fieldset', { class: 'methods' }, h('legend', {}, t('method')));
	const reason = h('textarea', { name: 'reason', rows: '2', maxlength: '2000' });
	const update = () => {
		const d = deps.find((x) => String(x.id) === sel.value);
		replace(info);
		replace(methods, h('legend', {}, t('method')));
		if (!d) return;
		replace(info,
			d.open_now ? h('p', { class: 'open-now' }, t('open_now'))
				: h('p', { class: 'warn', role: 'alert', 'data-closed': 'true' }, t('closed_now')),
			h('p', {}, t('hours'), ': ', fmtHours(d.phone_hours) || t('no_hours')));
		let first = true;
		for (const m of ['queue', 'hunt_group', 'ivr', 'email', 'callback', 'direct']) {
			const key = METHOD_FIELD[m];
			if (key && !d[key]) continue;
			methods.append(h('label', { class: 'radio' },
				h('input', { type: 'radio', name: 'method', value: m, checked: first }),
				' ', t('m_' + m), key ? [': ', h('strong', { class: 'target', 'data-method-target': m }, d[key])] : null));
			first = false;
		}
	};
	sel.addEventListener('change', update);
	openDialog({
		name: 'forward',
		title: t('forward_title'),
		submitLabel: t('forward_submit'),
		body: [field(t('department'), sel), info, methods, field(t('reason'), reason)],
		onSubmit: (form) => {
			const m = form.querySelector('input[name="method"]:checked');
			const d = deps.find((x) => String(x.id) === sel.value);
			if (!d || !m) throw new ApiError(422, 'field', t('choose_department'), null);
			return act(() => api('POST', `/cases/${curId}/forward`, {
				body: { department_id: d.id, method: m.value, ...(reason.value.trim() ? { reason: reason.value.trim() } : {}) },
				ifMatch: cur.version,
			}), t('forwarded_ok', { dep: d.name }));
		},
	});
}

function noteDialog() {
	const text = h('textarea', { name: 'text', rows: '5', maxlength: '10000', required: true, autofocus: true });
	openDialog({
		name: 'note',
		title: t('note_title'),
		submitLabel: t('save'),
		body: [field(t('note_text'), text)],
		onSubmit: () => act(async () => {
			return api('POST', `/cases/${curId}/notes`, { body: { text: text.value } });
		}, t('note_ok')),
	});
}

function replyDialog() {
	const to = h('input', { type: 'email', name: 'to', maxlength: '254' });
	const subject = h('input', { type: 'text', name: 'subject', maxlength: '500' });
	const text = h('textarea', { name: 'text', rows: '8', required: true, autofocus: true });
	openDialog({
		name: 'reply',
		title: t('reply_title'),
		submitLabel: t('send'),
		body: [field(t('reply_to'), to), field(t('reply_subject'), subject), field(t('reply_text'), text)],
		onSubmit: () => act(async () => {
			const body = { text: text.value };
			if (to.value.trim()) body.to = to.value.trim();
			if (subject.value.trim()) body.subject = subject.value.trim();
			return api('POST', `/cases/${curId}/replies`, { body });
		}, t('reply_ok')),
	});
}

function reopenDialog() {
	const form = openDialog({
		name: 'reopen',
		title: t('reopen_confirm'),
		submitLabel: t('a_reopen'),
		body: [],
		onSubmit: () => act(() => api('POST', `/cases/${curId}/reopen`, { body: {}, ifMatch: cur.version }), t('reopened_ok')),
	});
	form.querySelector('[data-action="submit"]').focus();
}

// The case with this reference (GET /api/v1/cases?reference=), or null.
async function findByReference(ref) {
	const r = await api('GET', '/cases', { query: { reference: ref, limit: 1 } });
	return r.items[0] ?? null;
}

function mergeDialog() {
	const ref = h('input', { type: 'text', name: 'into', required: true, autofocus: true, pattern: '[0-9]{4}-[0-9]{6,}', placeholder: '2026-000123' });
	openDialog({
		name: 'merge',
		title: t('merge_title'),
		submitLabel: t('merge_submit'),
		body: [field(t('merge_into'), ref)],
		onSubmit: async () => {
			const want = ref.value.trim();
			if (!/^[0-9]{4}-[0-9]{6,}$/.test(want)) throw new ApiError(404, 'not_found', t('merge_not_found', { ref: want }), null);
			const target = await findByReference(want);
			if (!target) throw new ApiError(404, 'not_found', t('merge_not_found', { ref: want }), null);
			return act(() => api('POST', `/cases/${curId}/merge`, { body: { into: target.id }, ifMatch: cur.version }),
				t('merged_ok', { ref: target.reference }));
		},
	});
}

// A live event about this case: load it again (not under an open dialog,
// whose action must use the version the agent saw).
export function onLive(type, data) {
	if (!root || curId === null || data.case_id !== curId) return;
	if (cur && data.case && data.case.version <= cur.version && type.startsWith('case.')) return;
	if (dialogOpen()) {
		staleWhileDialog = true;
		return;
	}
	clearTimeout(liveTimer);
	liveTimer = setTimeout(() => load(), 200);
}

export function dialogClosed() {
	if (staleWhileDialog && root) {
		staleWhileDialog = false;
		load();
	}
}
