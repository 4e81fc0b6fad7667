/** @odoo-module **/
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("comm_gateway_overview_tour", {
    steps: () => [
        {
            content: "The overview shows the account's undelivered messages",
            trigger: ".o_comm_overview_delivery tr:contains('Tour account') .o_comm_undelivered:contains('3')",
            run: "click",
        },
        {
            content: "The list behind the figure: the three undelivered messages",
            trigger: ".o_list_view .o_data_row:nth-child(3)",
        },
        {
            content: "… and only those",
            trigger: ".o_list_view:not(:has(.o_data_row:nth-child(4))) .o_data_row:contains('Undelivered')",
        },
        {
            content: "Back to the overview through the breadcrumb",
            trigger: ".o_breadcrumb a:contains('Overview')",
            run: "click",
        },
        {
            content: "The overview is back",
            trigger: ".o_comm_overview canvas",
        },
    ],
});
