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
    'legend_stars': _l("Stars on a marker: the product's OCOP rating (3, 4 or 5 stars)"),
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
    # The plain pages' layout (templates/base.html) and the units' types explained in English.
    'attribution_osm': _l('© OpenStreetMap contributors'),
    'nearby_needs_point': _l('Choose a point on the map first: the link needs {near}.'),
    'unit_xa': _l('commune'),
    'unit_phuong': _l('ward'),
    'unit_dac_khu': _l('special zone'),
    'unknown_value': _l('(not known)'),
    # The error pages (web/errors.py).
    'error_400': _l('Bad request'),
    'error_403': _l('Not allowed'),
    'error_404': _l('Page not found'),
    'error_405': _l('Method not allowed'),
    'error_413': _l('File too large'),
    'error_500': _l('Server error'),
    'error_other': _l('Something went wrong'),
    # /stats and /expiring (web/stats_pages.py).
    'stats_title': _l('OCOP statistics'),
    'data_version': _l('Data version {version}'),
    'stats_units': _l('Units:'),
    'stats_units_old': _l('districts before July 2025'),
    'stats_units_new': _l('communes, wards and special zones from July 2025'),
    'stats_by_commune': _l('By commune (from July 2025)'),
    'stats_by_stars': _l('By stars'),
    'stats_products': _l('Products'),
    'expiring_title': _l('OCOP certificates ending soon'),
    'expiring_months': _l('Months ahead'),
    'show': _l('Show'),
    'expiring_count': _l('{n} products with a certificate (valid 36 months) ending by {date}.'),
    'expiring_year_only': _l('Where only the year of certification is known, 1 January of that year is assumed.'),
    'expiring_unknown': _l('{n} products have no certification year and are not listed.'),
    'expiring_ends': _l('Ends'),
    'expiring_status': _l('Status'),
    'expiring_product': _l('Product'),
    'certified_on': _l('Certified on'),
    'status_expired': _l('Expired'),
    'status_expiring': _l('Ending soon'),
    'year_only': _l('{year} (year only)'),
    # /admin (web/admin.py).
    'admin_title': _l('OCOP data: import'),
    'admin_disabled': _l('The web import is disabled: set OCOP_SECRET_KEY and OCOP_ADMIN_PASSWORD_HASH.'),
    'password': _l('Password'),
    'log_in': _l('Log in'),
    'log_out': _l('Log out'),
    'wrong_password': _l('Wrong password.'),
    'admin_check_of': _l('Check of {name}'),
    'admin_file_summary': _l('{format} file: {kind}, {n} rows; coordinates from {crs}.'),
    'admin_problems': _l('Problems found (in English, as the command line reports them):'),
    'admin_no_problems': _l('No problems.'),
    'admin_apply_summary': _l('Applying adds {added} and replaces {replaced}.'),
    'admin_apply': _l('Apply'),
    'admin_has_errors': _l('The file has errors: nothing can be applied.'),
    'admin_check_file': _l('Check a file'),
    'admin_file': _l('File (CSV, XLSX, GeoJSON, KML, zipped shapefile, GPKG)'),
    'admin_kind_guess': _l('guess from the file'),
    'admin_crs': _l('Coordinate system (CRS)'),
    'admin_repair': _l('repair polygons'),
    'admin_replace': _l('replace the whole collection'),
    'admin_check': _l('Check'),
    'admin_choose_file': _l('Choose a file.'),
    'admin_upload_gone': _l('That upload is gone; check the file again.'),
    'admin_imported': _l('Imported: {added} added, {replaced} replaced; data version {version} (before: {previous}).'),
    'admin_nothing_changed': _l('Nothing was changed.'),
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
    'hb_src_products': _l('OCOP products: press and government articles, cited for each product in the data (field {field}) and in its popup on the web map; facts from the cited articles.'),
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
    # The map page (static/ocop-map.js, ocop-panel.js, ocop-near.js).
    'legend_markers': _l('Markers'),
    'legend_approx': _l('Dashed outline: approximate position, at the centre of its commune or district; once chosen, a dashed circle shows the area it lies in'),
    'legend_product_cluster': _l('Grey circle: several products close together; the number says how many. Choose it to zoom in'),
    'legend_destination_cluster': _l('Dark square with a number: several tourist destinations close together'),
    'legend_you': _l('Blue dot: your position, in a circle showing its accuracy'),
    'cluster_products': _l('{n} OCOP products here: zoom in'),
    'cluster_destinations': _l('{n} tourist destinations here: zoom in'),
    'approx_marker': _l('approximate position'),
    'panel_label': _l('Map panel'),
    'panel_larger': _l('Enlarge the panel'),
    'panel_smaller': _l('Shrink the panel'),
    'search_results': _l('Search results'),
    'filters_active': _l('Filters ({n})'),
    'details': _l('Details'),
    'close': _l('Close'),
    'map_label': _l('Map'),
    'share': _l('Share'),
    'share_place': _l('Share this place'),
    'link_copied': _l('Link copied'),
    'copy_this': _l('Copy this link:'),
    'radius': _l('Radius'),
    'near_you': _l('Near you'),
    'near_point': _l('Near the chosen point'),
    'near_empty': _l('Nothing within {km} km: choose a larger radius.'),
    'locating': _l('Finding your position…'),
    'accuracy': _l('Your position, accurate to about {m} m'),
    'open_list': _l('Open as a list page'),
    'zoom_in': _l('Zoom in'),
    'zoom_out': _l('Zoom out'),
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
