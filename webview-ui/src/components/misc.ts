/** `<vscode-progress-ring>` (indeterminate), labelled for screen readers. */
export function progressRing(label: string): HTMLElement {
	const element = document.createElement('vscode-progress-ring');
	element.setAttribute('aria-label', label);
	element.className = 'busy';
	return element;
}

/** `<vscode-badge>` with a number or a short text. */
export function badge(text: string, title?: string): HTMLElement {
	const element = document.createElement('vscode-badge');
	element.textContent = text;
	if (title) element.title = title;
	return element;
}
