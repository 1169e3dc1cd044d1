from django.db import models


class Invoice(models.Model):
    number = models.CharField(max_length=20, unique=True)
    total = models.IntegerField()
    legacy_code = models.CharField(max_length=10, blank=True)  # defect: MDB601
    memo = models.TextField(blank=True)
    paid_at = models.DateTimeField(null=True)  # defect: MDB601

    class Meta:
        app_label = "schema"
        indexes = [models.Index(fields=["total"], name="invoice_total_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(total__gte=0), name="invoice_total_positive")]
