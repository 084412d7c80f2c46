export interface SelectOption {
	readonly value: string;
	readonly label: string;
	readonly description?: string;
}

/** `<vscode-single-select>` with a visible label; onChange gets the chosen value. */
export function select(label: string, options: readonly SelectOption[], value: string, onChange: (value: string) => void, testId?: string): HTMLElement {
	const wrapper = document.createElement('label');
	wrapper.className = 'field';
	const caption = document.createElement('span');
	caption.className = 'field-label';
	caption.textContent = label;
	const element = document.createElement('vscode-single-select') as HTMLElement & { value: string };
	element.setAttribute('aria-label', label);
	if (testId) element.dataset.testid = testId;
	for (const option of options) {
		const item = document.createElement('vscode-option');
		item.setAttribute('value', option.value);
		item.textContent = option.label;
		if (option.description) item.setAttribute('description', option.description);
		if (option.value === value) item.setAttribute('selected', '');
		element.append(item);
	}
	element.addEventListener('change', () => onChange(element.value));
	wrapper.append(caption, element);
	return wrapper;
}
