from django.http import JsonResponse

from .models import Invoice


def by_legacy_code(request, code):
    invoice = Invoice.objects.filter(legacy_code=code).first()
    return JsonResponse({"number": invoice.number if invoice else None})
