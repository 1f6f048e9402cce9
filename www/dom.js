// SPDX-License-Identifier: MPL-2.0
// DOM helpers. Every piece of data goes into the page as a text node:
// nothing here (or anywhere in the front end) assigns innerHTML.

// h('a', {href: '#', class: 'x', onclick: fn}, 'text', child, [more])
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === null || v === undefined || v === false) continue;
		if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
		else if (k === 'class') el.className = v;
		else if (k === 'text') el.textContent = String(v);
		else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'selected' || k === 'required') el[k] = Boolean(v);
		else if (k === 'value') el.value = v;
		else el.setAttribute(k, v === true ? '' : String(v));
	}
	append(el, children);
	return el;
}

export function append(el, children) {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		if (Array.isArray(c)) append(el, c);
		else if (c instanceof Node) el.appendChild(c);
		else el.appendChild(document.createTextNode(String(c)));
	}
	return el;
}

export function clear(el) {
	while (el.firstChild) el.removeChild(el.firstChild);
	return el;
}

export function replace(el, ...children) {
	clear(el);
	return append(el, children);
}

export const $ = (sel, root = document) => root.querySelector(sel);
