/** @odoo-module **/
import { Component, onWillStart, onMounted, onWillUnmount, useRef, useState } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { getColor } from "@web/core/colors/colors";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { Layout } from "@web/search/layout";

const PERIODS = [1, 7, 30, 90];

/**
 * The Communications app's landing page: the figures of comm.overview.get_overview, each a
 * link to the list of the records behind it (the action it comes with).
 */
export class CommOverview extends Component {
    static template = "comm_gateway.Overview";
    static components = { Layout };
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.actionService = useService("action");
        this.periods = PERIODS;
        this.state = useState({ period: 30, accountId: 0, data: null });
        this.canvasRef = useRef("volumes");
        this.chart = null;
        onWillStart(async () => {
            await loadBundle("web.chartjs_lib");
            await this.load();
        });
        onMounted(() => this.renderChart());
        onWillUnmount(() => this.chart?.destroy());
    }

    async load() {
        const accounts = this.state.accountId ? [this.state.accountId] : [];
        this.state.data = await this.orm.call("comm.overview", "get_overview", [this.state.period, accounts]);
    }

    async onFilter(ev, key) {
        this.state[key] = parseInt(ev.target.value, 10);
        await this.load();
        this.renderChart();
    }

    open(action) {
        this.actionService.doAction({
            type: "ir.actions.act_window",
            name: action.name,
            res_model: action.res_model,
            domain: action.domain,
            views: [[false, "list"], [false, "form"]],
            target: "current",
        });
    }

    formatAge(seconds) {
        if (seconds === null || seconds === undefined) {
            return "";
        }
        if (seconds < 120) {
            return `${seconds} s`;
        }
        return seconds < 7200 ? `${Math.round(seconds / 60)} min` : `${Math.round(seconds / 3600)} h`;
    }

    renderChart() {
        this.chart?.destroy();
        const data = this.state.data;
        if (!this.canvasRef.el) {
            return;
        }
        const datasets = data.volumes.map((series, index) => ({
            label: series.label,
            data: data.days.map((day) => series.counts[day] || 0),
            backgroundColor: getColor(index, "light", "odoo"),
            stack: series.direction,
        }));
        this.chart = new Chart(this.canvasRef.el, {
            type: "bar",
            data: { labels: data.days, datasets },
            options: {
                maintainAspectRatio: false,
                scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
                onClick: (_event, elements) => {
                    if (elements.length) {
                        this.open(data.volumes[elements[0].datasetIndex].action);
                    }
                },
            },
        });
    }
}

registry.category("actions").add("comm_gateway.overview", CommOverview);
