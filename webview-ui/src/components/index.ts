/**
 * The panel's UI kit: thin factories over @vscode-elements/elements (the maintained successor
 * of the archived @vscode/webview-ui-toolkit). Only this folder names the library, so a swap
 * touches these files alone. Each module registers its custom element on import.
 */
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';

export { button } from './button';
export type { ButtonOptions } from './button';
export { select } from './select';
export type { SelectOption } from './select';
export { checkbox } from './checkbox';
export { textField } from './textField';
export { progressRing, badge } from './misc';
