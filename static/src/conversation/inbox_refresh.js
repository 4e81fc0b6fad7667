import { onWillUnmount, useComponent } from "@odoo/owl";
import { useService } from "@web/core/utils/hooks";

const DEBOUNCE_MS = 500;
/** Sent on the client's bus when a conversation was opened (its messages are read now). */
export const COMM_INBOX_READ = "comm_gateway:inbox-read";

/**
 * Call ``reload`` when the server says what ``types`` watch moved (models/comm_conversation.py
 * sends them to the Communications users' group at commit): ``comm_gateway.inbox/refresh`` when
 * unread messages came or were read, ``comm_gateway.conversation/refresh`` when any message or
 * status moved. Grouped: one reload for a burst of notifications.
 */
export function useInboxRefresh(reload, types = ["comm_gateway.inbox/refresh"]) {
    const component = useComponent();
    const bus = useService("bus_service");
    let timer = null;
    const onRefresh = () => {
        clearTimeout(timer);
        timer = setTimeout(() => reload.call(component), DEBOUNCE_MS);
    };
    for (const type of types) {
        bus.subscribe(type, onRefresh);
    }
    onWillUnmount(() => {
        clearTimeout(timer);
        for (const type of types) {
            bus.unsubscribe(type, onRefresh);
        }
    });
}
