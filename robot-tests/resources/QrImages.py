"""QR code images made and read by independent libraries, for qr.robot.

``segno`` and ``qrcode`` draw the codes rpa-mfa must read (at any size,
error-correction level, rotation, as PNG or JPEG), Chromium shows one on a
page and screenshots it, and ``zxing-cpp`` reads the codes rpa-mfa draws.
Nothing here logs an image or a code's text: they hold test secrets.
"""

import base64
import io
import os
import tempfile

import qrcode
import segno
import zxingcpp
from PIL import Image, ImageDraw, ImageOps

from KeywordPage import _chromium

QRCODE_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}


def segno_image(text, scale=4, error="M", rotate=0, format="PNG", border=4, invert=False):
    """A QR code of ``text`` drawn by segno (error level L/M/Q/H, as given:
    segno would otherwise raise it), ``scale`` pixels per module."""
    code = segno.make_qr(text, error=error.lower(), boost_error=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=int(scale), border=int(border))
    return _finish(Image.open(io.BytesIO(buffer.getvalue())), rotate, format, invert)


def qrcode_image(text, box_size=10, error="M", rotate=0, format="PNG", border=4, invert=False):
    """A QR code of ``text`` drawn by python-qrcode with Pillow."""
    code = qrcode.QRCode(error_correction=QRCODE_LEVELS[error.upper()],
                         box_size=int(box_size), border=int(border))
    code.add_data(text)
    code.make(fit=True)
    return _finish(code.make_image().get_image(), rotate, format, invert)


def _finish(image, rotate, format, invert):
    """Rotated (white fills the corners), inverted, saved as PNG or JPEG."""
    image = image.convert("L")
    if invert:
        image = ImageOps.invert(image)
    rotate = float(rotate)
    if rotate:
        fill = 0 if invert else 255
        image = image.rotate(rotate, resample=Image.BICUBIC, expand=True, fillcolor=fill)
    return _save(image, format)


def _save(image, format):
    buffer = io.BytesIO()
    if format.upper() in ("JPEG", "JPG"):
        image.convert("RGB").save(buffer, format="JPEG", quality=75)
    else:
        image.save(buffer, format="PNG")
    return buffer.getvalue()


def picture_without_qr_code(width=640, height=480):
    """A PNG with shapes and text but no QR code."""
    image = Image.new("RGB", (int(width), int(height)), (240, 240, 250))
    draw = ImageDraw.Draw(image)
    for i in range(0, int(width), 40):
        draw.rectangle([i, i // 2, i + 30, i // 2 + 30], fill=(20, 20, 20))
    draw.ellipse([200, 100, 400, 300], outline=(0, 0, 0), width=8)
    draw.text((20, 20), "Scan the code with your authenticator", fill=(0, 0, 0))
    return _save(image, "PNG")


def blank_png(width, height):
    """A white PNG of the given size (small on disk, large once decoded)."""
    return _save(Image.new("L", (int(width), int(height)), 255), "PNG")


def image_size(data):
    """``(width, height)`` of PNG or JPEG bytes."""
    return Image.open(io.BytesIO(data)).size


def as_base64(data, data_url=False):
    """Base64 text of bytes, as a JSON-RPC client or a browser sends them."""
    text = base64.b64encode(data).decode()
    return f"data:image/png;base64,{text}" if data_url else text


def browser_screenshot_of_enrollment_page(qr_png, path, width=1280, height=900):
    """Headless Chromium's screenshot of a sign-up page that shows ``qr_png``
    among text, as an enrolling site does; returns the screenshot's bytes."""
    picture = base64.b64encode(qr_png).decode()
    page = f"""<!doctype html><html><body style="font-family: sans-serif; margin: 40px">
<h1>Set up two-factor authentication</h1>
<p>Scan this code with your authenticator app, then type the code it shows.</p>
<div style="display: flex; gap: 40px; align-items: center">
  <img src="data:image/png;base64,{picture}" width="240" height="240">
  <form><label>Code <input name="code"></label> <button>Verify</button></form>
</div>
<p style="color: #666">Can't scan it? Ask your administrator.</p>
</body></html>"""
    with tempfile.TemporaryDirectory(prefix="qr-page-") as folder:
        html = os.path.join(folder, "enroll.html")
        with open(html, "w") as f:
            f.write(page)
        _chromium(f"--window-size={int(width)},{int(height)}", f"--screenshot={path}",
                  f"file://{html}")
    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"\x89PNG"):
        raise AssertionError(f"{path} is not a PNG")
    return data


def zxing_read(data):
    """The text of the one QR code zxing-cpp finds in PNG bytes."""
    results = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))
    codes = [r for r in results if r.format == zxingcpp.BarcodeFormat.QRCode]
    if len(codes) != 1:
        raise AssertionError(f"zxing-cpp found {len(codes)} QR codes, expected 1")
    return codes[0].text


def pyotp_parts(uri):
    """An otpauth URI's parts as pyotp (the independent reference) reads them."""
    import pyotp

    otp = pyotp.parse_uri(uri)
    parts = {
        "type": "hotp" if isinstance(otp, pyotp.HOTP) else "totp",
        "secret": otp.secret,
        "issuer": otp.issuer,
        "account": otp.name,
        "algorithm": otp.digest().name.upper().replace("SHA", "SHA"),
        "digits": otp.digits,
    }
    if isinstance(otp, pyotp.HOTP):
        parts["counter"] = otp.initial_count
    else:
        parts["period"] = otp.interval
    return parts
