/** `<vscode-checkbox>`; onChange gets the new state. */
export function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void, testId?: string): HTMLElement {
	const element = document.createElement('vscode-checkbox') as HTMLElement & { checked: boolean };
	element.setAttribute('label', label);
	if (checked) element.setAttribute('checked', '');
	if (testId) element.dataset.testid = testId;
	element.addEventListener('change', () => onChange(element.checked));
	return element;
}
