export interface ButtonOptions {
	readonly secondary?: boolean;
	readonly title?: string;
	readonly disabled?: boolean;
	readonly testId?: string;
}

/** `<vscode-button>`; the click handler is not called while disabled. */
export function button(label: string, onClick: () => void, options: ButtonOptions = {}): HTMLElement {
	const element = document.createElement('vscode-button');
	element.textContent = label;
	if (options.secondary) element.setAttribute('secondary', '');
	if (options.title) element.title = options.title;
	if (options.disabled) element.setAttribute('disabled', '');
	if (options.testId) element.dataset.testid = options.testId;
	element.addEventListener('click', () => {
		if (!element.hasAttribute('disabled')) onClick();
	});
	return element;
}
