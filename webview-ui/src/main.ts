/** Entry of the analysis panel's webview bundle (dist/webview/main.js + main.css). */
import './styles.css';
import { App } from './app';

const root = document.getElementById('app');
if (root) {
	new App(root);
}
