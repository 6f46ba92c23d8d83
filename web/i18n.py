"""UI strings.  Source text is English; translations/vi holds the Vietnamese.

Every string a page or the map script shows is here, looked up with Flask-Babel in the
request's language, so no template or script carries text in one language only.
"""
from __future__ import annotations

from flask import request
from flask_babel import gettext, lazy_gettext as _l

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"

# key -> message; keys are what geo/mapbuild.py and static/ocop-map.js use.
MESSAGES = {
    'title': _l('{region} OCOP products map'),
    'subtitle': _l('Certified OCOP products and tourist destinations'),
    'layer_products': _l('OCOP products'),
    'layer_destinations': _l('Tourist destinations'),
    'layer_districts': _l('Former districts (until 1 July 2025)'),
    'layer_communes': _l('Communes, wards and special zones (from 1 July 2025)'),
    'unit_type': _l('Type'),
    'code': _l('Code'),
    'area': _l('Area'),
    'formed_from': _l('Formed from (before July 2025):'),
    'legend': _l('Legend'),
    'legend_districts': _l('OCOP products per district'),
    'legend_categories': _l('Product groups'),
    'legend_stars': _l('Number on a marker: OCOP stars'),
    'legend_destinations': _l('Tourist destinations'),
    'legend_communes': _l('A circle at the centre of each unit, sized by its number of OCOP products (no source we can use has the boundaries of the 2025 units).'),
    'products_count': _l('{n} products'),
    'stars_n': _l('{n} stars'),
    'producer': _l('Producer'),
    'stars': _l('Rating'),
    'category': _l('Group'),
    'address': _l('Address'),
    'district': _l('Former district'),
    'address_2025': _l('Commune (from July 2025)'),
    'address_former': _l('Former address'),
    'commune_2025_guess': _l('(nearest to the position: the source names no commune)'),
    'commune': _l('Commune'),
    'certified_year': _l('Certified'),
    'kind': _l('Kind'),
    'source': _l('Source'),
    'links': _l('Buy at'),
    'precision_commune': _l('Approximate position: centre of the commune.'),
    'precision_district': _l('Approximate position: centre of the district.'),
    'district_flag': _l('Note: the point lies outside the district stated.'),
    'attribution_boundaries': _l('Boundaries: <a href="https://www.geoboundaries.org/">geoBoundaries</a> (CC BY-SA 4.0)'),
    'near_destinations': _l('Tourist destinations within {km} km'),
    'near_products': _l('OCOP products within {km} km'),
    'none_near': _l('Nothing within this distance.'),
    'directions': _l('Directions'),
    'search': _l('Search'),
    'search_placeholder': _l('Search products, places, districts…'),
    'no_results': _l('No results'),
    'filters': _l('Filters'),
    'all_districts': _l('All districts'),
    'stars_filter': _l('Stars'),
    'category_filter': _l('Product group'),
    'district_filter': _l('District'),
    'location_source': _l('Position from'),
    'commune_filter': _l('Commune, ward or special zone (from 1 July 2025)'),
    'all_communes': _l('All communes'),
    'valid_only': _l('Valid certificates only'),
    'clear_filters': _l('Clear filters'),
    'download': _l('Download what you see'),
    'list_view': _l('List view'),
    'near_me': _l('Near me'),
    'near_here': _l('What is near here?'),
    'location_unavailable': _l('Your location is not available. Right-click or long-press the map to pick a point.'),
    'ignored': _l('Ignored in the link:'),
    'shown': _l('{n} of {total} products shown'),
    'kind_product': _l('OCOP product'),
    'kind_destination': _l('Destination'),
    'kind_district': _l('District'),
    'kind_commune': _l('Commune (2025)'),
    'nearby_title': _l('Near {place}'),
    'nearby_point': _l('the chosen point'),
    'back_to_map': _l('Back to the map'),
    'list_title': _l('OCOP products and destinations'),
    'open_on_map': _l('Show on the map'),
    'distance': _l('Distance'),
    'results_count': _l('{n} results'),
    'bad_parameter': _l('This link has a value we cannot use:'),
    'view_larger': _l('View larger map'),
    'embed_title': _l('Embed the map'),
    'embed_intro': _l('Choose what the embedded map shows, check the preview, then copy the code into your page.'),
    'embed_layers': _l('Layers'),
    'embed_controls': _l('Controls'),
    'embed_language': _l('Language'),
    'embed_size': _l('Size (pixels)'),
    'embed_width': _l('Width'),
    'embed_height': _l('Height'),
    'embed_preview': _l('Preview'),
    'embed_code': _l('Code to paste'),
    'embed_copy': _l('Copy'),
    'embed_copied': _l('Copied'),
    'control_search': _l('Search box'),
    'control_filters': _l('Filters'),
    'control_legend': _l('Legend'),
    'control_layers': _l('Layer switch'),
    'control_locate': _l('Near me'),
    'control_zoom': _l('Zoom buttons'),
    'popup_unavailable': _l('Details could not be loaded; please try again.'),
    # The printable handbook (/handbook, `ocop handbook`).
    'hb_title': _l('{region} OCOP handbook'),
    'hb_subtitle': _l('Certified OCOP products, district by district'),
    'hb_scope': _l('This handbook covers'),
    'hb_scope_all': _l('the whole city'),
    'hb_city_total': _l('Whole city: {line}'),
    'hb_count_at_stars': _l('{n} at {s} stars'),
    'hb_total': _l('Total'),
    'hb_by_category': _l('By product group'),
    'hb_by_district': _l('By district (before July 2025)'),
    'hb_contents': _l('Contents'),
    'hb_map_alt': _l('Map of {district}: its OCOP products as dots coloured by group, neighbouring districts in grey'),
    'hb_commune_unknown': _l('Commune (from July 2025) not known'),
    'hb_commune_2025': _l('from July 2025'),
    'hb_qr_map': _l('On the map'),
    'hb_qr_shop': _l('Shop'),
    'hb_index_category': _l('Index by product group'),
    'hb_index_name': _l('Index by name'),
    'hb_sources': _l('Data sources and licences'),
    'hb_src_districts': _l('District boundaries (before July 2025): geoBoundaries ADM2, CC BY-SA 4.0; district codes and names: vietnamadminunits, MIT.'),
    'hb_src_communes': _l('Communes, wards and special zones from July 2025: vietnamadminunits, MIT.'),
    'hb_src_products': _l('OCOP products: press and government articles, cited for each product in the data (field source) and in its popup on the web map; facts from the cited articles.'),
    'hb_src_maps': _l('The maps in this handbook are drawn from the same district boundaries and product points as the web map, without map tiles.'),
    'hb_src_hosts': _l('Websites cited by the products in this handbook'),
    'hb_src_other': _l('{n} products cite a source that is not a web address.'),
    'hb_generated': _l("Built from the web map's data (version {version}) on {date}: {url}"),
    'hb_pdf': _l('Download the handbook as PDF'),
    'hb_empty': _l('No product matches these filters.'),
    'certificate': _l('Certificate'),
    'cert_valid': _l('Valid (36 months from {start})'),
    'cert_expired': _l('Expired (36 months from {start}) unless renewed'),
    'cert_unknown': _l('Certification date not known'),
    'certificate_expired_note': _l('The certificate was issued in {start} and is valid 36 months: it has ended unless the producer renewed it.'),
}

# Each language's own name, for the switch: not translated, by design.
AUTONYMS = {"vi": "Tiếng Việt", "en": "English"}


def select_locale() -> str:
    """`lang=` in the URL, then the browser's Accept-Language, then Vietnamese."""
    lang = request.args.get("lang", "")
    if lang in LANGS:
        return lang
    return request.accept_languages.best_match(LANGS, default=DEFAULT_LANG) or DEFAULT_LANG


def register_language_header(app) -> None:
    """Every HTML page says its language in `Content-Language` (and `Vary` on the header
    it was chosen from), so caches and screen readers need not guess."""
    @app.after_request
    def _content_language(resp):
        if resp.mimetype == "text/html" and "Content-Language" not in resp.headers:
            from flask_babel import get_locale

            resp.headers["Content-Language"] = str(get_locale() or DEFAULT_LANG)
            resp.vary.add("Accept-Language")
        return resp


def messages() -> dict[str, str]:
    """Every UI string in the current request's language, `{region}` filled in with the
    region's name (data/region.json)."""
    from flask import current_app
    from flask_babel import get_locale

    region = current_app.extensions["ocop"].dataset.region.label(str(get_locale() or "vi"))
    return {key: str(msg).replace("{region}", region) for key, msg in MESSAGES.items()}


__all__ = ["AUTONYMS", "LANGS", "MESSAGES", "gettext", "messages", "select_locale"]
