import { Chatter } from "@mail/chatter/web_portal/chatter";

import { useEffect } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { patch } from "@web/core/utils/patch";

/**
 * What the queue posts (replies, failure notes, call notes) and the delivery statuses it moves
 * reach the chatters open on the record: each chatter subscribes to its record's channel (the
 * server lets in only users who may read the record); statuses come as store data, new messages
 * as a ping that makes the chatter fetch them with the user's own rights.
 */
export const commLiveChatterService = {
    dependencies: ["bus_service", "mail.store"],
    start(env, { bus_service: bus, "mail.store": store }) {
        const watched = new Map(); // channel -> number of chatters showing it
        bus.subscribe("comm_gateway.thread/refresh", ({ model, id }) => {
            const thread = store.Thread.get({ model, id });
            if (thread && watched.has(channelOf(model, id))) {
                thread.fetchNewMessages();
            }
        });
        return {
            watch(model, id) {
                const channel = channelOf(model, id);
                watched.set(channel, (watched.get(channel) || 0) + 1);
                if (watched.get(channel) === 1) {
                    bus.addChannel(channel);
                }
            },
            unwatch(model, id) {
                const channel = channelOf(model, id);
                const count = (watched.get(channel) || 1) - 1;
                if (count > 0) {
                    watched.set(channel, count);
                    return;
                }
                watched.delete(channel);
                bus.deleteChannel(channel);
            },
        };
    },
};

function channelOf(model, id) {
    return `comm_gateway.thread_${model}_${id}`;
}

registry.category("services").add("comm_gateway.live_chatter", commLiveChatterService);

patch(Chatter.prototype, {
    setup() {
        super.setup(...arguments);
        const live = this.env.services["comm_gateway.live_chatter"];
        useEffect(
            (model, id) => {
                if (!live || !model || !id || model === "discuss.channel") {
                    return;
                }
                live.watch(model, id);
                return () => live.unwatch(model, id);
            },
            () => [this.state.thread?.model, this.state.thread?.id]
        );
    },
});
