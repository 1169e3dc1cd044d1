SECRET_KEY = "example-only"
DEBUG = True
INSTALLED_APPS = ["django.contrib.contenttypes", "tasks"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
