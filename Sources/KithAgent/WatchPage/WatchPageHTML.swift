/// The watch page itself: one small document with its style and script inline and nothing from
/// elsewhere. Names and message text come from other people and are hostile: the script builds
/// every node with `textContent` and never parses data as HTML.
enum WatchPageHTML {
    static func page(nonce: String) -> String {
        """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>kith watch</title>
        <style nonce="\(nonce)">
        body { font: 15px/1.4 system-ui, sans-serif; margin: 1rem; background: #f6f6f4; color: #222; }
        h1 { font-size: 1.1rem; margin: 0 0 .75rem; } #status { color: #888; font-weight: normal; font-size: .85rem; }
        #board { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: .75rem; }
        .card { background: #fff; border-radius: .5rem; padding: .6rem .8rem; box-shadow: 0 1px 3px #0002; }
        .card header { display: flex; align-items: center; gap: .4rem; }
        .name { font-weight: 600; flex: 1; overflow-wrap: anywhere; } .online .dot { color: #2a9d4b; } .offline .dot { color: #aaa; }
        .unread { border: 0; border-radius: 1rem; min-width: 2rem; padding: .1rem .5rem; background: #ddd; cursor: pointer; font: inherit; }
        .unread.some { background: #d33; color: #fff; font-weight: 600; }
        .presence { color: #666; font-size: .85rem; margin: .2rem 0; } .newest { margin: .2rem 0; overflow-wrap: anywhere; }
        #messages { margin-top: 1rem; } #messages li { margin: .3rem 0; overflow-wrap: anywhere; white-space: pre-wrap; }
        time { color: #888; font-size: .8rem; margin-right: .5rem; }
        </style></head>
        <body><h1>kith watch <span id="status">connecting…</span></h1>
        <main id="board"></main><section id="messages"></section>
        <script nonce="\(nonce)">
        "use strict";
        const board = document.getElementById("board"), shown = document.getElementById("messages");
        const status = document.getElementById("status");
        function node(tag, cls, text) {
          const made = document.createElement(tag);
          if (cls) made.className = cls;
          if (text !== undefined) made.textContent = text;
          return made;
        }
        function presence(c) {
          if (c.state !== "contact") return c.state;
          return c.online ? "online" + (c.onlineDevices > 1 ? " on " + c.onlineDevices + " devices" : "") : "offline";
        }
        function draw(state) {
          const cards = state.contacts.map(c => {
            const card = node("article", "card " + (c.online ? "online" : "offline"));
            card.dataset.contact = c.account;
            const count = node("button", "unread" + (c.unread > 0 ? " some" : ""), String(c.unread));
            count.title = "show the messages and mark them read";
            count.addEventListener("click", () => open(c.account));
            const head = node("header");
            head.append(node("span", "dot", c.online ? "\u{25CF}" : "\u{25CB}"), node("span", "name", c.account), count);
            card.append(head, node("p", "presence", presence(c)), node("p", "newest", c.newest ?? "no messages"));
            return card;
          });
          board.replaceChildren(...cards);
          if (cards.length === 0) board.append(node("p", "empty", "watching nobody: kith watch add CONTACT"));
        }
        async function open(contact) {
          const answer = await fetch("/messages?contact=" + encodeURIComponent(contact));
          if (!answer.ok) { shown.replaceChildren(node("p", "error", "cannot show the messages (" + answer.status + ")")); return; }
          const list = await answer.json();
          const items = list.messages.map(m => {
            const item = node("li");
            item.append(node("time", null, new Date(m.sentAtMillis).toLocaleString()), node("span", "text", m.text));
            return item;
          });
          const ol = node("ol");
          ol.append(...items);
          shown.replaceChildren(node("h2", null, "messages from " + contact), items.length ? ol : node("p", null, "none"));
          await fetch("/read", { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
                                 body: "contact=" + encodeURIComponent(contact) });
        }
        const events = new EventSource("/events");
        events.onopen = () => { status.textContent = "live"; };
        events.onerror = () => { status.textContent = "reconnecting…"; };
        events.onmessage = e => draw(JSON.parse(e.data));
        </script></body></html>
        """
    }
}
