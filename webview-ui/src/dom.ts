/** Element factory: `el('div', 'class', children…)`; undefined and false children are skipped. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, ...children: (Node | string | undefined | false)[]): HTMLElementTagNameMap[K] {
	const element = document.createElement(tag);
	if (className) element.className = className;
	for (const child of children) {
		if (child !== undefined && child !== false) element.append(child);
	}
	return element;
}
