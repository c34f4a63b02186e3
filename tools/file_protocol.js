/* Lets asv's dashboard open from a file (file://), where browsers refuse to fetch its JSON.
   tools/offline_dashboard.py writes each data file X.json also as a script, X.json.js, which
   hands its content to asvFileData; on file:// every $.ajax call loads that script instead.
   Served over http(s), the page fetches as asv wrote it. */
(function ($) {
    "use strict";
    if (window.location.protocol !== "file:") {
        return;
    }
    var pending = {};

    window.asvFileData = function (path, data) {
        var waiting = pending[path];
        delete pending[path];
        if (waiting) {
            waiting.resolve(data);
        }
    };

    $.ajax = function (options) {
        var path = decodeURIComponent(options.url.split("?")[0]);
        if (!/\.json$/.test(path)) {
            /* asv asks for swallow.ico to tell "no data" from "server down": a file is never down. */
            return $.Deferred().resolve("").promise();
        }
        if (!pending[path]) {
            var loading = pending[path] = $.Deferred();
            var script = document.createElement("script");
            script.src = options.url.split("?")[0] + ".js";
            script.onerror = function () {
                delete pending[path];
                loading.reject(null, "error", "missing " + path + ".js");
            };
            document.head.appendChild(script);
        }
        return pending[path].promise();
    };
})(jQuery);
