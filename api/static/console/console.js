// Dripline console: the little JavaScript the server-rendered pages need. It draws the map (Leaflet), follows a
// re-plan, and sends the console's writes to the API with the page's anti-forgery token. It decides nothing:
// every rule is checked by the server, and its answer (or its 422 errors, field by field) is shown as given.
"use strict";

(function () {
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  async function api(method, path, body) {
    const options = { method, headers: { "X-CSRF-Token": csrf, Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { status: response.status, ok: response.ok, data };
  }

  function say(element, text, kind) {
    if (!element) return;
    element.textContent = text;
    element.className = kind || "";
  }

  function detailText(data) {
    if (!data) return "the server did not answer";
    if (typeof data.detail === "string") return data.detail;
    if (Array.isArray(data.detail)) return data.detail.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`).join("; ");
    return "refused";
  }

  // ------------------------------------------------------------------ the map

  function drawMap() {
    const holder = document.getElementById("map");
    const source = document.getElementById("map-data");
    if (!holder || !source || typeof L === "undefined") return;
    const data = JSON.parse(source.textContent);
    const map = L.map(holder, { zoomSnap: 0.25, keyboard: true });
    if (data.tiles.url) {
      L.tileLayer(data.tiles.url, { attribution: data.tiles.attribution, maxZoom: 18 }).addTo(map);
    } else {
      holder.classList.add("no-tiles");
    }
    const bounds = [];
    function popup(lines) {
      const box = document.createElement("div");
      lines.forEach((line) => {
        const p = document.createElement("p");
        p.textContent = line;
        box.appendChild(p);
      });
      return box;
    }
    function badge(className, text, colour, label) {
      return L.divIcon({
        className: `badge ${className}`,
        html: `<span style="background:${colour}" aria-hidden="true">${text}</span>`,
        iconSize: [24, 24],
        iconAnchor: [12, 12],
      });
    }
    data.homes.forEach((home) => {
      const marker = L.marker(home.at, { icon: badge("home-marker", "H", home.colour), title: `${home.name}'s home`, alt: `${home.name}'s home`, keyboard: true });
      marker.bindPopup(popup([`${home.name}'s home`])).addTo(map);
      bounds.push(home.at);
    });
    data.routes.forEach((route) => {
      const home = data.homes.find((h) => h.medic_id === route.medic_id);
      const line = [];
      if (home) line.push(home.at);
      route.stops.forEach((stop) => {
        line.push(stop.at);
        bounds.push(stop.at);
        const title = `${route.name}, stop ${stop.number}: booking ${stop.booking_id}`;
        const marker = L.marker(stop.at, { icon: badge("stop-marker", String(stop.number), route.colour), title, alt: title, keyboard: true });
        marker.bindPopup(
          popup([
            `Booking ${stop.booking_id} (${route.name}, stop ${stop.number})`,
            `Window ${stop.window}`,
            `Planned: ${stop.planned}`,
            `Patients: ${stop.patients.join(", ") || "none"}`,
            `Services: ${stop.services.join(", ")}`,
          ])
        );
        marker.on("add", () => marker.getElement() && marker.getElement().setAttribute("data-booking", stop.booking_id));
        marker.addTo(map);
      });
      if (home) line.push(home.at);
      if (line.length > 1) L.polyline(line, { color: route.colour, weight: 3, opacity: 0.8, className: "route-line" }).addTo(map);
    });
    data.unassigned.forEach((item) => {
      const title = `Unassigned booking ${item.booking_id}`;
      const marker = L.marker(item.at, { icon: badge("unassigned-marker", "?", "#8a8f98"), title, alt: title, keyboard: true });
      marker.bindPopup(popup([title, `Window ${item.window}`, `Why: ${item.reason}`])).addTo(map);
      bounds.push(item.at);
    });
    if (bounds.length) map.fitBounds(bounds, { padding: [24, 24] });
    else map.setView([39.74, -104.99], 10);
    holder.dataset.ready = "true";
    holder.dataset.drawnMs = String(Math.round(performance.now()));  // read by bench/console_load.py
  }

  // ------------------------------------------------------------------ the board's controls

  function wireBoard() {
    const main = document.getElementById("main");
    const day = main ? main.dataset.day : null;
    if (!day) return;

    const picker = document.querySelector("[data-day-picker]");
    if (picker) picker.addEventListener("change", () => picker.value && (window.location.href = `/console/${picker.value}`));

    const filter = document.getElementById("reason-filter");
    if (filter) {
      filter.addEventListener("change", () => {
        document.querySelectorAll("#unassigned tbody tr[data-reason]").forEach((row) => {
          row.hidden = Boolean(filter.value) && row.dataset.reason !== filter.value;
        });
      });
    }

    const replan = document.getElementById("replan");
    const status = document.getElementById("replan-status");
    if (replan) {
      replan.addEventListener("click", async () => {
        replan.disabled = true;
        const version = main.dataset.version;
        say(status, "Re-plan queued…");
        const queued = await api("POST", `/plans/${day}`);
        if (!queued.ok) {
          say(status, `Re-plan refused: ${detailText(queued.data)}`, "bad");
          replan.disabled = false;
          return;
        }
        const poll = async () => {
          const job = await api("GET", queued.data.status_url);
          const state = job.data ? job.data.status : "unknown";
          if (state === "queued" || state === "running") {
            say(status, `Re-plan ${state}…`);
            window.setTimeout(poll, 1000);
            return;
          }
          if (state === "published") {
            say(status, `Published version ${job.data.plan_version}.`);
            window.location.href = `/console/${day}${version ? `?since=${version}` : ""}`;
            return;
          }
          say(status, state === "unchanged" ? "Nothing changed since the published plan." : `Re-plan ${state}: ${job.data ? job.data.detail : ""}`, state === "unchanged" ? "" : "bad");
          replan.disabled = false;
        };
        window.setTimeout(poll, 500);
      });
    }

    const moveResult = document.getElementById("move-result");
    const moveForm = document.getElementById("move-form");
    document.querySelectorAll("[data-move]").forEach((button) => {
      button.addEventListener("click", () => {
        moveForm.hidden = false;
        moveForm.elements.booking_id.value = button.dataset.move;
        moveForm.elements.part.value = button.dataset.part;
        moveForm.elements.medic_id.value = button.dataset.medic;
        moveForm.elements.position.value = button.dataset.position;
        moveForm.querySelector("[data-move-booking]").textContent = button.dataset.move;
        moveResult.replaceChildren();
        moveForm.elements.medic_id.focus();
      });
    });
    if (moveForm) {
      moveForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const form = moveForm;
        const body = {
          booking_id: Number(form.elements.booking_id.value),
          part: Number(form.elements.part.value),
          medic_id: Number(form.elements.medic_id.value),
          position: Math.max(0, Number(form.elements.position.value) - 1),
        };
        const checked = await api("POST", `/plans/${day}/moves/check`, body);
        moveResult.replaceChildren();
        if (!checked.ok) {
          say(moveResult, `The move cannot be checked: ${detailText(checked.data)}`, "bad");
          return;
        }
        const c = checked.data;
        const text = document.createElement("p");
        if (!c.allowed) {
          text.className = "bad";
          text.textContent = `Refused: ${c.violations.join("; ")}`;
          moveResult.appendChild(text);
          return;
        }
        const change = Object.entries(c.delta)
          .filter(([, value]) => value !== 0)
          .map(([name, value]) => `${name} ${value > 0 ? "+" : ""}${name.endsWith("_s") ? Math.round(value / 60) + " min" : value}`);
        text.textContent = `Allowed. Change: ${change.join(", ") || "none"}.`;
        const commit = document.createElement("button");
        commit.type = "button";
        commit.textContent = "Make this move";
        commit.addEventListener("click", async () => {
          commit.disabled = true;
          const done = await api("POST", `/plans/${day}/moves`, body);
          if (done.ok) window.location.href = `/console/${day}?since=${c.version}`;
          else say(moveResult, `Refused: ${detailText(done.data)}`, "bad");
        });
        moveResult.append(text, commit);
        commit.focus();
      });
    }

    const bookingResult = document.getElementById("booking-result");
    const pinForm = document.getElementById("pin-form");
    document.querySelectorAll("[data-pin]").forEach((button) => {
      button.addEventListener("click", () => {
        pinForm.hidden = false;
        pinForm.elements.booking_id.value = button.dataset.pin;
        if (button.dataset.medic) pinForm.elements.medic_id.value = button.dataset.medic;
        pinForm.elements.start.value = button.dataset.start || "";
        pinForm.querySelector("[data-pin-booking]").textContent = button.dataset.pin;
        pinForm.elements.medic_id.focus();
      });
    });
    if (pinForm) {
      pinForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const booking = pinForm.elements.booking_id.value;
        const body = { medic_id: Number(pinForm.elements.medic_id.value) };
        if (pinForm.elements.start.value) body.start = `${day}T${pinForm.elements.start.value}:00${main.dataset.offset}`;
        const pinned = await api("PUT", `/bookings/${booking}/pin`, body);
        if (pinned.ok) window.location.reload();
        else say(bookingResult, `Booking ${booking} not pinned: ${detailText(pinned.data)}`, "bad");
      });
    }
    document.querySelectorAll("[data-unpin]").forEach((button) => {
      button.addEventListener("click", async () => {
        const done = await api("DELETE", `/bookings/${button.dataset.unpin}/pin`);
        if (done.ok) window.location.reload();
        else say(bookingResult, `Booking ${button.dataset.unpin} not unpinned: ${detailText(done.data)}`, "bad");
      });
    });
    document.querySelectorAll("[data-clear]").forEach((button) => {
      button.addEventListener("click", async () => {
        const done = await api("POST", `/bookings/${button.dataset.clear}/clear`);
        if (done.ok) window.location.reload();
        else say(bookingResult, `Booking ${button.dataset.clear} not cleared: ${detailText(done.data)}`, "bad");
      });
    });
  }

  // ------------------------------------------------------------------ the booking form

  function wireBookingForm() {
    const form = document.getElementById("booking-form");
    if (!form) return;
    const day = form.dataset.day;
    const offset = form.dataset.offset;
    const moment = (time) => `${day}T${time}:00${offset}`;
    const value = (name) => (form.elements[name] ? form.elements[name].value.trim() : "");
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      form.querySelectorAll(".field-error").forEach((el) => (el.textContent = ""));
      form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
      const body = { window_start: moment(value("window_start")), window_end: moment(value("window_end")) };
      if (value("priority")) body.priority = Number(value("priority"));
      body.preferred_medic_id = value("preferred_medic_id") ? Number(value("preferred_medic_id")) : null;
      let request;
      if (form.dataset.booking) {
        request = api("PATCH", `/bookings/${form.dataset.booking}`, body);
      } else {
        body.service_date = day;
        body.place = { address: value("address"), kind: value("kind"), access_notes: value("access_notes") };
        if (value("lat") || value("lon")) {
          body.place.lat = Number(value("lat"));
          body.place.lon = Number(value("lon"));
        }
        body.patients = [
          {
            full_name: value("full_name"),
            phone: value("phone"),
            date_of_birth: value("date_of_birth") || null,
            service: value("service"),
            first_visit: form.elements.first_visit.checked,
          },
        ];
        request = api("POST", "/bookings", body);
      }
      const answer = await request;
      const result = document.getElementById("form-result");
      if (answer.ok) {
        say(result, `Booking ${answer.data.id} saved: ${answer.data.status}.`);
        window.location.href = `/console/${day}`;
        return;
      }
      if (answer.status === 422 && Array.isArray(answer.data.detail)) {
        let first = null;
        answer.data.detail.forEach((error) => {
          const loc = (error.loc || []).filter((part) => part !== "body").join(".");
          const slot = document.getElementById(`err-${loc}`) || document.getElementById("err-form");
          slot.textContent = slot.textContent ? `${slot.textContent}; ${error.msg}` : error.msg;
          const input = form.querySelector(`[data-loc="${loc}"]`);
          if (input) {
            input.setAttribute("aria-invalid", "true");
            first = first || input;
          }
        });
        say(result, "Some fields need attention.", "bad");
        if (first) first.focus();
        return;
      }
      say(result, `Not saved: ${detailText(answer.data)}`, "bad");
    });
  }

  drawMap();
  wireBoard();
  wireBookingForm();
})();
