/** @odoo-module **/
import { registry } from "@web/core/registry";
import { stepUtils } from "@web_tour/tour_service/tour_utils";

registry.category("web_tour.tours").add("comm_gateway_overview_user_tour", {
    steps: () => [
        stepUtils.showAppsMenuItem(),
        {
            content: "A Communications User opens the Communications app",
            trigger: ".o_app[data-menu-xmlid='comm_gateway.menu_comm_root']",
            run: "click",
        },
        {
            content: "It opens on the overview: their company's account, no queue health",
            trigger: ".o_comm_overview:not(:has(.o_comm_overview_queue)) .o_comm_overview_delivery tr:contains('Gamma')",
        },
        {
            content: "No account of the other company",
            trigger: ".o_comm_overview_delivery:not(:has(tr:contains('Alpha')))",
        },
        {
            content: "Click the delivered figure",
            trigger: ".o_comm_overview_delivery tr:contains('Gamma') .o_comm_figure:contains('2')",
            run: "click",
        },
        {
            content: "The list behind it: the two delivered messages the user may read",
            trigger: ".o_list_view:not(:has(.o_data_row:nth-child(3))) .o_data_row:nth-child(2)",
        },
    ],
});
