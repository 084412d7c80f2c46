import type { HardwareProfile } from '../../shared/analysis';
import type { HostToWebview } from '../../shared/protocol';
import type { Services } from '../services';

/** What a section of the analysis panel (prune preview, training) needs of its panel. */
export interface PanelHost {
	/** The model file the panel shows. */
	readonly path: string;
	readonly services: Services;
	/** Sends a message to the webview (queued or replayed by the panel when the page is not there). */
	post(message: HostToWebview): Promise<void>;
	/** The profile the panel analyses with: settings, with the panel's switcher on top. */
	profile(): HardwareProfile;
}
