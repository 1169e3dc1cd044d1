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


VIEWSETS = """\
    from django.db.models import Count
    from rest_framework import serializers, viewsets
    from rest_framework.response import Response

    from app.models import Book


    class ValueField(serializers.SerializerMethodField):  # the project's own method field
        pass


    class BookSerializer(serializers.ModelSerializer):
        author_name = ValueField()

        class Meta:
            model = Book
            fields = ["id", "author_name"]

        def get_author_name(self, obj):
            return obj.author.name


    class OtherSerializer(serializers.ModelSerializer):
        class Meta:
            model = Book
            fields = ["id"]


    class Books(viewsets.ModelViewSet):
        serializer_class = BookSerializer

        def get_queryset(self):
            return (Book.objects.filter(id__gt=0).distinct().order_by("id")  # MDB302
                    .annotate(n=Count("tags")).annotate(m=Count("tags")).prefetch_related("tags"))

        def get_serializer(self, *args, **kwargs):
            kwargs.setdefault("context", self.get_serializer_context())
            return super().get_serializer(*args, **kwargs)

        def list(self, request, *args, **kwargs):
            if request.query_params.get("plain"):
                return super().list(request, *args, **kwargs)
            serializer = self.get_serializer(self.filter_queryset(self.get_queryset()), many=True)
            return Response({"results": serializer.data, "extra": 1})


    class Chosen(viewsets.ModelViewSet):
        serializer_class = BookSerializer

        def get_queryset(self):
            return Book.objects.all()  # its list decides which serializer renders the rows

        def list(self, request, *args, **kwargs):
            return Response(OtherSerializer(self.get_queryset(), many=True).data)
    """


def test_views_that_only_pass_through_their_serializer_and_long_querysets(tmp_path):
    # a get_serializer/list that delegates keeps the view's serializer and rows; a project
    # subclass of SerializerMethodField reads what its method reads; a queryset of seven
    # chained methods is still a queryset; a list naming another serializer is not followed
    root = write_project(tmp_path, {**FILES, "app/views.py": VIEWSETS})
    want = marked(root, "app/views.py", "# MDB302")
    assert len(want) == 1 and lines_of(check_all(root), "MDB302", "views.py") == want
