/** `<vscode-textfield>` with a visible label; onChange fires on commit (Enter or blur). */
export function textField(label: string, value: string, onChange: (value: string) => void, options: { type?: 'text' | 'number'; size?: number; testId?: string; min?: number; max?: number; step?: number } = {}): HTMLElement {
	const wrapper = document.createElement('label');
	wrapper.className = 'field';
	const caption = document.createElement('span');
	caption.className = 'field-label';
	caption.textContent = label;
	const element = document.createElement('vscode-textfield') as HTMLElement & { value: string };
	element.setAttribute('value', value);
	element.setAttribute('aria-label', label);
	if (options.type) element.setAttribute('type', options.type);
	if (options.min !== undefined) element.setAttribute('min', String(options.min));
	if (options.max !== undefined) element.setAttribute('max', String(options.max));
	if (options.step !== undefined) element.setAttribute('step', String(options.step));
	if (options.testId) element.dataset.testid = options.testId;
	if (options.size) element.classList.add(`size-${options.size}`);
	element.addEventListener('change', () => onChange(element.value));
	wrapper.append(caption, element);
	return wrapper;
}
