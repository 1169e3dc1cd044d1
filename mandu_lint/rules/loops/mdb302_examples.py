"""MDB302's examples (kept out of the rule module to keep it short); the tests run them."""

_MODELS = """
from django.db import models

class Author(models.Model):
    name = models.CharField(max_length=50)

class Tag(models.Model):
    name = models.CharField(max_length=20)

class Book(models.Model):
    author = models.ForeignKey(Author, on_delete=models.CASCADE, related_name="books")
    tags = models.ManyToManyField(Tag)
    title = models.CharField(max_length=50)

    def label(self):
        return f"{self.title} by {self.author.name}"
"""

_SA_MODELS = """
from sqlalchemy import ForeignKey
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

class Base(DeclarativeBase):
    pass

class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    orders: Mapped[list["Order"]] = relationship(back_populates="user")

class Order(Base):
    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user: Mapped["User"] = relationship(back_populates="orders")
"""

BAD = [
    {
        "shop/models.py": _MODELS,
        "shop/views.py": """
from shop.models import Author, Book

def titles():
    return [f"{b.title} by {b.author.name}" for b in Book.objects.filter(title__startswith="A")]  # error

def tags():
    out = []
    for b in Book.objects.select_related("author"):
        out.append(b.label())
        out.append(len(b.tags.all()))  # error
    for a in Author.objects.all():
        for b in a.books.all():  # error
            out.append(b.title)
    return out
""",
    },
    {
        "app/models.py": _SA_MODELS,
        "app/views.py": """
from sqlalchemy import select
from sqlalchemy.orm import Session
from app.models import Order, User

def order_owners(session: Session):
    return [o.user.name for o in session.scalars(select(Order).where(Order.id > 10))]  # error

def order_counts(session: Session):
    return {u.id: len(u.orders) for u in session.query(User).all()}  # error
""",
    },
]

_TEMPLATES = {
    "shop/templates/shop/books.html": """
{% for book in books %}
  <li>{{ book.title }} by {{ book.author.name }}</li>
{% endfor %}
""",
    "shop/templates/shop/author_list.html": """
{% for author in author_list %}
  <h2>{{ author.name }}</h2>
  {% for book in author.books.all %}{% include "shop/tags.html" %}{% endfor %}
{% endfor %}
""",
    "shop/templates/shop/tags.html": """
{{ book.title }}: {% for tag in book.tags.all %}{{ tag.name }} {% endfor %}
""",
}

_SCHEMAS = """
from pydantic import BaseModel, ConfigDict

class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    name: str

class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    user: UserOut
"""

BAD.append({
    "app/models.py": _SA_MODELS,
    "app/schemas.py": _SCHEMAS,
    "app/api.py": """
from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session
from app.models import Order
from app.schemas import OrderOut

router = APIRouter()

@router.get("/orders", response_model=list[OrderOut])
def orders(session: Session):
    return session.scalars(select(Order).where(Order.id > 10)).all()  # error
""",
})

BAD.append({
    "shop/models.py": _MODELS,
    "shop/views.py": """
from django.shortcuts import render
from django.views.generic import ListView
from shop.models import Author, Book

def book_page(request):
    books = Book.objects.filter(title__startswith="A")  # error
    return render(request, "shop/books.html", {"books": books})

class AuthorList(ListView):
    queryset = Author.objects.order_by("name")  # error
""",
    **_TEMPLATES,
})

GOOD = [
    {
        "shop/models.py": _MODELS,
        "shop/views.py": """
from django.db.models import Prefetch
from shop.models import Author, Book

def titles(books):
    out = [f"{b.title} by {b.author.name}" for b in Book.objects.select_related("author")]
    for b in Book.objects.prefetch_related("tags"):
        out.append(len(b.tags.all()))
        out.append(b.author_id)                      # the key only: no query
    for a in Author.objects.prefetch_related(Prefetch("books", queryset=Book.objects.select_related("author"))):
        out.extend(b.label() for b in a.books.all())
    for b in books:                                  # not a query we can see
        out.append(b.author.name)
    return out
""",
    },
    {
        "app/models.py": _SA_MODELS,
        "app/views.py": """
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload
from app.models import Order, User

def order_owners(session: Session):
    stmt = select(Order).options(joinedload(Order.user))
    return [o.user.name for o in session.scalars(stmt)]

def order_counts(session: Session):
    return {u.id: len(u.orders) for u in session.query(User).options(selectinload(User.orders))}
""",
    },
]

GOOD.append({
    "shop/models.py": _MODELS,
    "shop/views.py": """
from django.shortcuts import render
from django.views.generic import ListView
from shop.models import Author, Book

def book_page(request):
    books = Book.objects.filter(title__startswith="A").select_related("author")
    return render(request, "shop/books.html", {"books": books})

class AuthorList(ListView):
    queryset = Author.objects.order_by("name").prefetch_related("books__tags")
""",
    **_TEMPLATES,
})

GOOD.append({
    "app/models.py": _SA_MODELS,
    "app/schemas.py": _SCHEMAS,
    "app/api.py": """
from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from app.models import Order
from app.schemas import OrderOut

router = APIRouter()

@router.get("/orders", response_model=list[OrderOut])
def orders(session: Session):
    return session.scalars(select(Order).options(joinedload(Order.user))).all()
""",
})
