// The search box: shows only the keywords whose name, arguments, tags or
// documentation contain every word typed. `/?q=words` opens the page
// filtered, so a filtered view can be linked.
(function () {
  var search = document.getElementById("search");
  var sections = document.querySelectorAll("section.keyword");
  var entries = document.querySelectorAll("#keyword-list li");
  var noMatch = document.getElementById("no-match");
  function filter() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = {};
    var count = 0;
    sections.forEach(function (section) {
      var text = section.textContent.toLowerCase();
      var match = words.every(function (w) { return text.indexOf(w) >= 0; });
      section.hidden = !match;
      shown[section.dataset.name] = match;
      if (match) count++;
    });
    entries.forEach(function (li) { li.hidden = !shown[li.dataset.name]; });
    noMatch.hidden = count > 0;
  }
  search.value = new URLSearchParams(location.search).get("q") || "";
  search.addEventListener("input", filter);
  filter();
})();
