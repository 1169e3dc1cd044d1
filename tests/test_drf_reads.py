"""What a DRF list endpoint's serializer reads per row: write-only fields (declared with
``write_only=True`` or through ``Meta.extra_kwargs``) are never rendered, and a queryset passed
through ``filter_queryset()``/``paginate_queryset()`` keeps the relations it loads. Synthetic
project."""
from __future__ import annotations

from synthetic import check_all, lines_of, marked, write_project

FILES = {
    "app/__init__.py": "",
    "app/settings.py": "DEBUG = True\n",
    "app/models.py": """\
        from django.db import models


        class Author(models.Model):
            name = models.CharField(max_length=50)


        class Tag(models.Model):
            label = models.CharField(max_length=50)


        class Book(models.Model):
            author = models.ForeignKey(Author, on_delete=models.CASCADE)
            tags = models.ManyToManyField(Tag)
        """,
    "app/views.py": """\
        from rest_framework import serializers, viewsets
        from rest_framework.response import Response

        from app.models import Book, Tag


        class BookSerializer(serializers.ModelSerializer):
            tags = serializers.PrimaryKeyRelatedField(queryset=Tag.objects.all(), many=True, write_only=True)

            class Meta:
                model = Book
                fields = ["id", "tags", "author"]
                extra_kwargs = {"author": {"write_only": True}}


        class AuthorNameSerializer(serializers.ModelSerializer):
            author_name = serializers.CharField(source="author.name")

            class Meta:
                model = Book
                fields = ["id", "author_name"]


        class BookViewSet(viewsets.ModelViewSet):
            queryset = Book.objects.all()

            def get_queryset(self):
                return self.filter_queryset(super().get_queryset().select_related("author"))

            def list(self, request):
                return Response(BookSerializer(Book.objects.all(), many=True).data)  # write-only: silent

            def names(self, request):
                return Response(AuthorNameSerializer(self.get_queryset(), many=True).data)  # loaded: silent

            def names_unloaded(self, request):
                return Response(AuthorNameSerializer(Book.objects.all(), many=True).data)  # MDB302
        """,
}


def test_write_only_fields_and_pass_through_querysets(tmp_path):
    root = write_project(tmp_path, FILES)
    want = marked(root, "app/views.py", "# MDB302")
    assert len(want) == 1 and lines_of(check_all(root), "MDB302", "views.py") == want
