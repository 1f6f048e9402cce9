// SPDX-License-Identifier: MPL-2.0
// The screen pop: a call offered or answered shows its number and that
// number's open and recent cases; one click opens the call's case.

import { h, replace, $ } from './dom.js';
import { t, fmtTime } from './i18n.js';
import { ctx, statusBadge } from './ui.js';

let shownCall = null;

function mine(call) {
	// An answered call pops for the agent who took it (when the phone
	// system names agents by login or name) or when it names nobody.
	if (!call?.answered_by) return true;
	const a = call.answered_by.toLowerCase();
	return [ctx.user?.login, ctx.user?.name].some((x) => x && x.toLowerCase() === a);
}

export function onLive(type, data) {
	const pop = $('#screenpop');
	if (type === 'call.ended') {
		if (data.call && data.call.call_id === shownCall) {
			pop.dataset.state = 'ended';
			const st = pop.querySelector('.call-state');
			if (st) st.textContent = t('s_ended');
		}
		return;
	}
	if (type !== 'call.offered' && type !== 'call.answered') return;
	if (!data.call || data.call.direction !== 'in') return;
	if (type === 'call.answered' && !mine(data.call)) {
		// a colleague took it
		if (data.call.call_id === shownCall) dismiss();
		return;
	}
	const sp = data.screen_pop || { phone: data.call.from, open_cases: [], recent_cases: [] };
	shownCall = data.call.call_id;
	const caseLink = (c) => h('li', {},
		h('a', { href: `#/case/${c.id}`, onclick: () => dismiss() }, c.reference), ' ',
		statusBadge(c.status), ' ', h('span', { class: 'subject' }, c.subject || t('no_subject')), ' ',
		h('time', { datetime: c.created_at }, fmtTime(c.created_at)));
	const list = (title, cases) => h('section', {}, h('h3', {}, title),
		cases.length ? h('ul', {}, cases.map(caseLink)) : h('p', {}, t('pop_none')));
	const open = h('button', {
		type: 'button',
		class: 'primary',
		'data-action': 'open-call-case',
		disabled: !data.case_id,
		onclick: () => {
			dismiss();
			ctx.navigate(`#/case/${data.case_id}`);
		},
	}, t('pop_open_call_case'), data.case?.reference ? ` ${data.case.reference}` : '');
	replace(pop,
		h('header', {},
			h('h2', { id: 'pop-title' }, type === 'call.answered' ? t('pop_answered') : t('pop_title')),
			h('button', { type: 'button', class: 'link', 'data-action': 'dismiss', 'aria-label': t('pop_dismiss'), onclick: () => dismiss() }, '×')),
		h('p', { class: 'number' }, t('pop_number'), ': ',
			h('strong', { 'data-number': sp.phone || '' }, sp.phone || data.call.from || t('pop_withheld'))),
		h('p', { class: 'call-state' }, t('s_' + data.call.state)),
		open,
		list(t('pop_open_cases'), sp.open_cases || []),
		list(t('pop_recent_cases'), sp.recent_cases || []));
	pop.dataset.callId = data.call.call_id;
	pop.dataset.state = data.call.state;
	pop.setAttribute('aria-labelledby', 'pop-title');
	pop.hidden = false;
}

export function dismiss() {
	const pop = $('#screenpop');
	pop.hidden = true;
	shownCall = null;
}

export function isOpen() {
	return !$('#screenpop').hidden;
}

export function focus() {
	$('#screenpop [data-action="open-call-case"]')?.focus();
}
